//! 512-bit builds of the max pass and the fused exp pass. Each loop iteration takes 16 values
//! where the 256-bit build takes 8: the exp polynomial is one long dependency chain, so twice
//! the lanes per instruction is nearly twice the speed even where a 512-bit operation costs
//! two 256-bit ones. The arithmetic is unchanged: the same IEEE operations on every value,
//! and each block sum still adds its values into 8 lanes in the 256-bit build's order (the
//! low half of a 16-value chunk, then the high half). Each function is `unsafe` to call only
//! because it needs AVX-512F and AVX-512VL.

use std::arch::x86_64::*;

use super::portable::{BLOCK, Blocks, Candidates};
use super::simd;

/// Values per 512-bit vector.
const WIDE: usize = 16;

/// `fastmath::max`: the largest value ignoring NaN, −∞ for an empty or all-NaN slice.
/// The maximum of a set does not depend on the order it is taken in.
#[target_feature(enable = "avx512f,avx512vl")]
pub(crate) fn max(xs: &[f32]) -> f32 {
    // Four accumulators, so the chain of maxima is not the bottleneck.
    let mut acc = [_mm512_set1_ps(f32::NEG_INFINITY); 4];
    let mut chunks = xs.chunks_exact(4 * WIDE);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c.chunks_exact(WIDE)) {
            *a = _mm512_max_ps(load(x), *a); // a NaN in `x` keeps `a`
        }
    }
    let m = _mm512_max_ps(_mm512_max_ps(acc[0], acc[1]), _mm512_max_ps(acc[2], acc[3]));
    let top = _mm512_reduce_max_ps(m);
    let tail = super::portable::max_small(chunks.remainder());
    if tail > top { tail } else { top }
}

/// [`super::portable::exp2_nonpositive`] on 16 lanes: the same operations in the same order.
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn exp2_nonpositive(t: __m512) -> __m512 {
    const MAGIC: f32 = 12_582_912.0;
    const COEFFS: [f32; 6] = [
        1.339_993_1e-3,
        9.618_489e-3,
        5.550_328_8e-2,
        2.402_264_7e-1,
        6.931_472e-1,
        1.0,
    ];
    let valid = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(t, _mm512_set1_ps(-125.0));
    let t = _mm512_mask_blend_ps(valid, _mm512_set1_ps(-125.0), t);
    let shifted = _mm512_add_ps(t, _mm512_set1_ps(MAGIC));
    let r = _mm512_sub_ps(t, _mm512_sub_ps(shifted, _mm512_set1_ps(MAGIC)));
    let mut p = _mm512_set1_ps(1.534_581_2e-4);
    for c in COEFFS {
        p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(c));
    }
    let n = _mm512_sub_epi32(
        _mm512_castps_si512(shifted),
        _mm512_set1_epi32(0x4B40_0000 - 127),
    );
    let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(n));
    _mm512_maskz_mov_ps(valid, _mm512_mul_ps(p, scale)) // 0 where invalid, as `and` with the mask
}

/// `fastmath::exp_blocks`'s pass. With `gather = Some((cands, cap))` it also appends to
/// `cands` every probability ≥ `cands.lo` with its token id, in token order, and sets
/// `cands.complete`; if more than about `cap` (at most `cap + 15`) qualify it stops gathering
/// and clears `complete`.
#[target_feature(enable = "avx512f,avx512vl")]
pub(crate) fn exp_blocks(
    xs: &[f32],
    m: f32,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Blocks,
    mut gather: Option<(&mut Candidates, usize)>,
) {
    let (vm, vscale) = (_mm512_set1_ps(m), _mm512_set1_ps(scale));
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let mut lo = f32::INFINITY; // nothing is gathered without `gather`
    let mut n = 0;
    if let Some((cands, cap)) = &mut gather {
        // Room for one more chunk past `cap`, so a chunk's compressed store always fits.
        // (Growing only: truncating would make the next resize zero the buffers again.)
        if cands.probs.len() < *cap + WIDE {
            cands.probs.resize(*cap + WIDE, 0.0);
            cands.ids.resize(*cap + WIDE, 0);
        }
        cands.complete = true;
        lo = cands.lo;
    }
    let vlo = _mm512_set1_ps(lo);
    for (b, (xb, ob)) in xs.chunks(BLOCK).zip(out.chunks_mut(BLOCK)).enumerate() {
        if xb.len() < BLOCK {
            // The ragged last block: the 256-bit build, then a scalar scan for candidates.
            simd::avx512::exp_blocks(xb, m, scale, ob, blocks);
            let Some((cands, cap)) = &mut gather else {
                continue;
            };
            for (j, &e) in ob.iter().enumerate() {
                if e >= lo && cands.complete {
                    if n >= *cap {
                        cands.complete = false;
                        break;
                    }
                    cands.probs[n] = e;
                    cands.ids[n] = (b * BLOCK + j) as u32;
                    n += 1;
                }
            }
            continue;
        }
        let (mut acc, mut top) = (_mm256_setzero_ps(), _mm512_setzero_ps());
        for (c, (x, o)) in xb
            .chunks_exact(WIDE)
            .zip(ob.chunks_exact_mut(WIDE))
            .enumerate()
        {
            let e = exp2_nonpositive(_mm512_mul_ps(_mm512_sub_ps(load(x), vm), vscale));
            store(o, e);
            // Values 0..8 of the chunk, then 8..16: the 8-lane build's order.
            acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
            let high = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(e));
            acc = _mm256_add_ps(acc, _mm256_castpd_ps(high));
            top = _mm512_max_ps(e, top);
            let keep = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(e, vlo);
            if keep == 0 {
                continue;
            }
            let Some((cands, cap)) = &mut gather else {
                continue;
            };
            if !cands.complete {
                continue;
            }
            if n >= *cap {
                cands.complete = false;
                continue;
            }
            // n < cap, so the 16 values stored fit in the cap + 16 allotted.
            let first = (b * BLOCK + c * WIDE) as i32;
            let ids = _mm512_add_epi32(_mm512_set1_epi32(first), lanes);
            store(
                &mut cands.probs[n..n + WIDE],
                _mm512_maskz_compress_ps(keep, e),
            );
            store_u32(
                &mut cands.ids[n..n + WIDE],
                _mm512_maskz_compress_epi32(keep, ids),
            );
            n += keep.count_ones() as usize;
        }
        blocks.sum.push(super::portable::widen(lanes8(acc), 0.0));
        // Probabilities are ≥ +0 and never NaN: the maximum, whatever the order.
        blocks.max.push(_mm512_reduce_max_ps(top));
    }
    if let Some((cands, _)) = gather {
        cands.len = n;
    }
}

#[inline(always)]
fn load(x: &[f32]) -> __m512 {
    assert_eq!(x.len(), WIDE);
    // SAFETY: `x` holds 16 f32s, and `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_ps(x.as_ptr()) }
}

#[inline(always)]
fn store(out: &mut [f32], v: __m512) {
    assert_eq!(out.len(), WIDE);
    // SAFETY: `out` holds 16 f32s, and `storeu` has no alignment requirement.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), v) }
}

#[inline(always)]
fn store_u32(out: &mut [u32], v: __m512i) {
    assert_eq!(out.len(), WIDE);
    // SAFETY: `out` holds 16 u32s, and `storeu` has no alignment requirement.
    unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), v) }
}

#[inline(always)]
fn lanes8(v: __m256) -> [f32; 8] {
    // SAFETY: __m256 and [f32; 8] have the same size, and every bit pattern is valid.
    unsafe { std::mem::transmute(v) }
}
