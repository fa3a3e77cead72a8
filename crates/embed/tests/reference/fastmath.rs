//! Frozen copy of `src/fastmath.rs` as of the reference commit (see `mod.rs`).
//!
//! Kernels over the vocabulary: exp, max, sums, selection and the KGW bias.
//!
//! Softmax over V = 49,152 with libm `expf` costs a few hundred microseconds, more than the
//! rest of a decode step; a polynomial `2^t` in straight-line code that the compiler
//! vectorises is about ten times faster and accurate to a few ulp.
//!
//! On x86-64 with AVX2 each kernel has a second build, picked at run time: the same code
//! compiled with AVX2 enabled, or explicit intrinsics (the fused exp/sum/max pass and the band
//! scan, which the compiler vectorises poorly). Both builds do the same IEEE operations in the
//! same order (no FMA, the same 8-lane accumulators), so results are bit-identical whichever
//! runs; the tests check this.

/// Lanes of the manual reductions; their structure fixes the summation order.
const LANES: usize = 8;

/// Probabilities are summarised per block of this many tokens (maximum and sum), so passes
/// that look for large probabilities skip whole blocks.
pub(crate) const BLOCK: usize = 256;

/// `2^t` for `t ≤ 0`; NaN, −∞ and anything below −125 give exactly 0.
///
/// `t = n + r` with `n` an integer and `|r| ≤ 1/2`; `2^r` is a degree-6 minimax polynomial
/// (relative error 2·10⁻⁹ before rounding) with constant term exactly 1, so `2^0 = 1`.
#[inline(always)]
pub(crate) fn exp2_nonpositive(t: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer.
    let valid = t >= -125.0;
    let t = if valid { t } else { -125.0 };
    let shifted = t + MAGIC;
    let r = t - (shifted - MAGIC);
    let mut p = 1.534_581_2e-4_f32;
    p = p * r + 1.339_993_1e-3;
    p = p * r + 9.618_489e-3;
    p = p * r + 5.550_328_8e-2;
    p = p * r + 2.402_264_7e-1;
    p = p * r + 6.931_472e-1;
    p = p * r + 1.0;
    // 2ⁿ from the integer in the low mantissa bits of `shifted`.
    let scale = f32::from_bits(((shifted.to_bits() as i32 - 0x4B40_0000 + 127) << 23) as u32);
    if valid { p * scale } else { 0.0 }
}

/// The factor [`scaled_exp`] takes for temperature `1 / inv_t`.
pub(crate) fn exp_scale(inv_t: f32) -> f32 {
    inv_t * std::f32::consts::LOG2_E
}

/// `exp((x − m) / T)` as `2^((x − m) · scale)` with `scale = `[`exp_scale`]`(1/T)`; every
/// softmax in the crate goes through it, so equal inputs give equal probabilities.
#[inline(always)]
pub(crate) fn scaled_exp(x: f32, m: f32, scale: f32) -> f32 {
    exp2_nonpositive((x - m) * scale)
}

/// A key ordering tokens by probability `e ≥ 0` (higher first after a descending sort), then
/// by lower id.
#[inline(always)]
pub(crate) fn prob_key(e: f32, id: usize) -> u64 {
    (u64::from(e.to_bits()) << 32) | u64::from(!(id as u32))
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// Runs `$avx2` when the CPU has AVX2, else `$generic`, with the same arguments.
macro_rules! dispatch {
    ($generic:ident, $avx2:path, $($arg:expr),*) => {{
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { $avx2($($arg),*) };
        }
        $generic($($arg),*)
    }};
}

/// The largest value, ignoring NaN; −∞ for an empty or all-NaN slice.
pub(crate) fn max(xs: &[f32]) -> f32 {
    dispatch!(max_small, avx2::max, xs)
}

/// [`max`] without dispatch, for short slices inside a caller's loop.
#[inline(always)]
pub(crate) fn max_small(xs: &[f32]) -> f32 {
    // Written as selects so NaN (a false comparison) is skipped and the loop vectorises.
    let pick = |a: f32, x: f32| if x > a { x } else { a };
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            acc[j] = pick(acc[j], c[j]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &x| pick(a, x));
    acc.iter().fold(tail, |a, &x| pick(a, x))
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
        avx2::add_where_below,
        logits,
        words,
        threshold,
        delta
    )
}

#[inline(always)]
fn add_where_below_generic(logits: &mut [f32], words: &[u32], threshold: u32, delta: f32) -> usize {
    let mut count = [0u32; LANES];
    let mut lc = logits.chunks_exact_mut(LANES);
    let mut wc = words.chunks_exact(LANES);
    for (l, w) in (&mut lc).zip(&mut wc) {
        for j in 0..LANES {
            let below = w[j] < threshold;
            // −0.0 is the exact additive identity (x + −0.0 = x, even for x = −0.0); adding it
            // keeps the store unconditional (a masked store is microcoded on some CPUs).
            l[j] += if below { delta } else { -0.0 };
            count[j] += u32::from(below);
        }
    }
    let mut n: usize = count.iter().map(|&c| c as usize).sum();
    for (l, &w) in lc.into_remainder().iter_mut().zip(wc.remainder()) {
        if w < threshold {
            *l += delta;
            n += 1;
        }
    }
    n
}

/// The maximum and the sum of each [`BLOCK`] of a probability vector.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Blocks {
    pub(crate) max: Vec<f32>,
    pub(crate) sum: Vec<f64>,
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
        dispatch!(
            exp_blocks_generic,
            avx2::exp_blocks,
            xs,
            m,
            scale,
            out,
            blocks
        )
    }
}

#[inline(always)]
fn exp_blocks_generic(xs: &[f32], m: f32, scale: f32, out: &mut [f32], blocks: &mut Blocks) {
    for (xb, ob) in xs.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        exp_map(xb, m, scale, ob);
        let (sum, max) = sum_max_generic(ob);
        blocks.sum.push(sum);
        blocks.max.push(max);
    }
}

/// The exp map alone, so the loop vectoriser takes it.
#[inline(always)]
fn exp_map(xs: &[f32], m: f32, scale: f32, out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(xs) {
        *o = scaled_exp(x, m, scale);
    }
}

/// Widens 8 f32 lane sums to f64 in a fixed order and adds the scalar tail.
#[inline(always)]
fn widen(acc: [f32; LANES], tail: f64) -> f64 {
    tail + acc.iter().map(|&a| f64::from(a)).sum::<f64>()
}

/// Sum and maximum of non-negative values.
#[inline(always)]
fn sum_max_generic(xs: &[f32]) -> (f64, f32) {
    let (mut acc, mut top) = ([0.0f32; LANES], [0.0f32; LANES]);
    let mut chunks = xs.chunks_exact(LANES);
    for x in &mut chunks {
        for j in 0..LANES {
            acc[j] += x[j];
            top[j] = if x[j] > top[j] { x[j] } else { top[j] };
        }
    }
    let rest = chunks.remainder();
    let tail = rest.iter().map(|&x| f64::from(x)).sum();
    let top = top
        .iter()
        .chain(rest)
        .fold(0.0f32, |a, &x| if x > a { x } else { a });
    (widen(acc, tail), top)
}

/// Appends the [`prob_key`] of every probability in `[lo, hi)`, in token order, skipping
/// blocks whose maximum is below `lo`.
pub(crate) fn collect_band(probs: &[f32], block_max: &[f32], lo: f32, hi: f32, out: &mut Vec<u64>) {
    dispatch!(
        collect_band_generic,
        avx2::collect_band,
        probs,
        block_max,
        lo,
        hi,
        out
    )
}

#[inline(always)]
fn collect_band_generic(probs: &[f32], block_max: &[f32], lo: f32, hi: f32, out: &mut Vec<u64>) {
    for (i, (b, &top)) in probs.chunks(BLOCK).zip(block_max).enumerate() {
        if top >= lo {
            let band = b.iter().enumerate().filter(|&(_, &e)| e >= lo && e < hi);
            out.extend(band.map(|(j, &e)| prob_key(e, i * BLOCK + j)));
        }
    }
}

/// The AVX2 builds. Each is `unsafe` to call only because it needs AVX2.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{BLOCK, Blocks, LANES, exp_map, prob_key, widen};

    #[target_feature(enable = "avx2")]
    pub(super) fn max(xs: &[f32]) -> f32 {
        super::max_small(xs)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn add_where_below(
        logits: &mut [f32],
        words: &[u32],
        threshold: u32,
        delta: f32,
    ) -> usize {
        super::add_where_below_generic(logits, words, threshold, delta)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn exp_blocks(xs: &[f32], m: f32, scale: f32, out: &mut [f32], blocks: &mut Blocks) {
        let (vm, vscale) = (_mm256_set1_ps(m), _mm256_set1_ps(scale));
        for (xb, ob) in xs.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
            // `scaled_exp`, its sum and its maximum in one pass, in the generic build's order.
            let (mut acc, mut top) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut xi = xb.chunks_exact(LANES);
            let mut oi = ob.chunks_exact_mut(LANES);
            for (x, o) in (&mut xi).zip(&mut oi) {
                let e = exp2_nonpositive(_mm256_mul_ps(_mm256_sub_ps(load(x), vm), vscale));
                store(o, e);
                acc = _mm256_add_ps(acc, e);
                top = _mm256_max_ps(e, top); // NaN-free: the same as `if e > top`
            }
            let rest = oi.into_remainder();
            exp_map(xi.remainder(), m, scale, rest);
            let tail = rest.iter().map(|&x| f64::from(x)).sum();
            blocks.sum.push(widen(lanes(acc), tail));
            let top = lanes(top)
                .iter()
                .chain(rest.iter())
                .fold(0.0f32, |a, &x| if x > a { x } else { a });
            blocks.max.push(top);
        }
    }

    /// [`super::exp2_nonpositive`] on 8 lanes: the same operations in the same order.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn exp2_nonpositive(t: __m256) -> __m256 {
        const MAGIC: f32 = 12_582_912.0;
        const COEFFS: [f32; 6] = [
            1.339_993_1e-3,
            9.618_489e-3,
            5.550_328_8e-2,
            2.402_264_7e-1,
            6.931_472e-1,
            1.0,
        ];
        let valid = _mm256_cmp_ps::<_CMP_GE_OQ>(t, _mm256_set1_ps(-125.0));
        let t = _mm256_blendv_ps(_mm256_set1_ps(-125.0), t, valid);
        let shifted = _mm256_add_ps(t, _mm256_set1_ps(MAGIC));
        let r = _mm256_sub_ps(t, _mm256_sub_ps(shifted, _mm256_set1_ps(MAGIC)));
        let mut p = _mm256_set1_ps(1.534_581_2e-4);
        for c in COEFFS {
            p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(c));
        }
        let n = _mm256_sub_epi32(
            _mm256_castps_si256(shifted),
            _mm256_set1_epi32(0x4B40_0000 - 127),
        );
        let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(n));
        _mm256_and_ps(_mm256_mul_ps(p, scale), valid)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn collect_band(
        probs: &[f32],
        block_max: &[f32],
        lo: f32,
        hi: f32,
        out: &mut Vec<u64>,
    ) {
        let (vlo, vhi) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
        for (i, (b, &top)) in probs.chunks(BLOCK).zip(block_max).enumerate() {
            if top < lo {
                continue;
            }
            let mut chunks = b.chunks_exact(LANES);
            let mut base = i * BLOCK;
            for x in &mut chunks {
                let v = load(x);
                let inside = _mm256_and_ps(
                    _mm256_cmp_ps::<_CMP_GE_OQ>(v, vlo),
                    _mm256_cmp_ps::<_CMP_LT_OQ>(v, vhi),
                );
                let mut mask = _mm256_movemask_ps(inside);
                while mask != 0 {
                    let j = mask.trailing_zeros() as usize;
                    out.push(prob_key(x[j], base + j));
                    mask &= mask - 1;
                }
                base += LANES;
            }
            for (j, &e) in chunks.remainder().iter().enumerate() {
                if e >= lo && e < hi {
                    out.push(prob_key(e, base + j));
                }
            }
        }
    }

    #[inline(always)]
    fn load(x: &[f32]) -> __m256 {
        assert_eq!(x.len(), LANES);
        // SAFETY: `x` holds 8 f32s, and `loadu` has no alignment requirement.
        unsafe { _mm256_loadu_ps(x.as_ptr()) }
    }

    #[inline(always)]
    fn store(out: &mut [f32], v: __m256) {
        assert_eq!(out.len(), LANES);
        // SAFETY: `out` holds 8 f32s, and `storeu` has no alignment requirement.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) }
    }

    #[inline(always)]
    fn lanes(v: __m256) -> [f32; LANES] {
        // SAFETY: __m256 and [f32; 8] have the same size, and every bit pattern is valid.
        unsafe { std::mem::transmute(v) }
    }
}
