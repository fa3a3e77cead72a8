//! Kernels over the vocabulary: exp, max, sums, selection and the KGW bias.
//!
//! Softmax over V = 49,152 with libm `expf` costs a few hundred microseconds, more than the
//! rest of a decode step; a polynomial `2^t` in straight-line code that the compiler
//! vectorises is about ten times faster and accurate to a few ulp.
//!
//! On x86-64 each kernel has SIMD builds, picked at run time ([`crate::cpu`]): the same code
//! compiled with AVX2, or explicit 256-bit intrinsics (the fused exp/sum/max pass and the band
//! scan, which the compiler vectorises poorly), compiled for AVX2 and again for AVX-512VL
//! ([`simd`]); and 512-bit builds of the max and exp passes ([`wide`]), whose exp pass also
//! gathers the large probabilities for the nucleus. Every build does the same IEEE operations
//! in the same order (no FMA, the same 8-lane accumulators), so results are bit-identical
//! whichever runs; the tests check this.

mod portable;

pub(crate) use portable::{
    BLOCK, Blocks, Candidates, exp_scale, key_id, max_small, prob_key, scaled_exp,
};
use portable::{
    add_where_below_generic, collect_band_generic, divide_all_generic, exp_blocks_generic,
    first_equal_generic,
};

#[cfg(target_arch = "x86_64")]
use crate::cpu::{avx2 as has_avx2, avx512 as has_avx512vl};

/// Runs `simd::avx512::$kernel` when the CPU has AVX-512VL, else `simd::avx2::$kernel` when
/// it has AVX2, else `$generic`, with the same arguments.
macro_rules! dispatch {
    ($generic:ident, $kernel:ident, $($arg:expr),*) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512vl() {
                // SAFETY: the CPU supports AVX2, AVX-512F and AVX-512VL, checked just above.
                return unsafe { simd::avx512::$kernel($($arg),*) };
            }
            if has_avx2() {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { simd::avx2::$kernel($($arg),*) };
            }
        }
        $generic($($arg),*)
    }};
}

/// The largest value, ignoring NaN; −∞ for an empty or all-NaN slice.
pub(crate) fn max(xs: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if has_avx512vl() {
        // SAFETY: the CPU supports AVX-512F and AVX-512VL, checked just above.
        return unsafe { wide::max(xs) };
    }
    dispatch!(max_small, max, xs)
}

/// Adds `delta` to each `logits[i]` whose `words[i] < threshold` and returns how many.
pub(crate) fn add_where_below(
    logits: &mut [f32],
    words: &[u32],
    threshold: u32,
    delta: f32,
) -> usize {
    assert_eq!(logits.len(), words.len());
    dispatch!(
        add_where_below_generic,
        add_where_below,
        logits,
        words,
        threshold,
        delta
    )
}

/// Writes `out[i] = `[`scaled_exp`]`(xs[i], m, scale)`, summarises `out` into `blocks`, and
/// returns the sum of `out`. `m` must be finite and at least every finite `xs[i]`.
pub(crate) fn exp_blocks(
    xs: &[f32],
    m: f32,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Blocks,
) -> f64 {
    assert_eq!(xs.len(), out.len());
    blocks.max.clear();
    blocks.sum.clear();
    fill(xs, m, scale, out, blocks);
    return blocks.sum.iter().sum();

    fn fill(xs: &[f32], m: f32, scale: f32, out: &mut [f32], blocks: &mut Blocks) {
        #[cfg(target_arch = "x86_64")]
        if has_avx512vl() {
            // SAFETY: the CPU supports AVX-512F and AVX-512VL, checked just above.
            return unsafe { wide::exp_blocks(xs, m, scale, out, blocks, None) };
        }
        dispatch!(exp_blocks_generic, exp_blocks, xs, m, scale, out, blocks)
    }
}

/// [`exp_blocks`], also gathering into `cands` every probability ≥ `lo` with its token,
/// unless more than about `cap` qualify. Only the AVX-512 build gathers; elsewhere
/// `cands.complete` is false and the caller scans `out` itself.
#[allow(clippy::too_many_arguments)]
pub(crate) fn exp_blocks_collecting(
    xs: &[f32],
    m: f32,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Blocks,
    lo: f32,
    cap: usize,
    cands: &mut Candidates,
) -> f64 {
    cands.lo = lo;
    cands.len = 0;
    cands.complete = false;
    #[cfg(target_arch = "x86_64")]
    if has_avx512vl() {
        assert_eq!(xs.len(), out.len());
        blocks.max.clear();
        blocks.sum.clear();
        // SAFETY: the CPU supports AVX-512F and AVX-512VL, checked just above.
        unsafe { wide::exp_blocks(xs, m, scale, out, blocks, Some((cands, cap))) };
        return blocks.sum.iter().sum();
    }
    let _ = cap; // nothing is gathered
    exp_blocks(xs, m, scale, out, blocks)
}

/// The index of the first value equal to `m`, if any.
pub(crate) fn first_equal(xs: &[f32], m: f32) -> Option<usize> {
    dispatch!(first_equal_generic, first_equal, xs, m)
}

/// Divides every weight by `z` (each an IEEE division, 8 at a time where SIMD allows).
pub(crate) fn divide_all(kept: &mut [(u32, f64)], z: f64) {
    dispatch!(divide_all_generic, divide_all, kept, z)
}

/// Appends the [`prob_key`] of every probability in `[lo, hi)`, in token order, skipping
/// blocks whose maximum is below `lo`.
pub(crate) fn collect_band(probs: &[f32], block_max: &[f32], lo: f32, hi: f32, out: &mut Vec<u64>) {
    dispatch!(
        collect_band_generic,
        collect_band,
        probs,
        block_max,
        lo,
        hi,
        out
    )
}

#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(target_arch = "x86_64")]
mod wide;

#[cfg(test)]
mod tests;
