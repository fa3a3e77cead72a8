//! The SIMD builds of the kernels, from one source compiled twice: with AVX2 (16 vector
//! registers) and with AVX2 plus AVX-512F/VL (32 registers: the fused exp pass keeps its
//! accumulators in registers instead of spilling them). Both run the same 256-bit intrinsics,
//! so they do the same IEEE operations in the same order and agree bit for bit. Each function
//! is `unsafe` to call only because it needs its target features.

/// The kernels, compiled for `$features`.
macro_rules! kernels {
    ($features:literal) => {
        use std::arch::x86_64::*;

        use $crate::fastmath::portable::{
            BLOCK, Blocks, LANES, exp_map, max_small, prob_key, widen,
        };
        use $crate::fastmath::portable::{
            add_where_below_generic, divide_all_generic, first_equal_generic,
        };

        #[target_feature(enable = $features)]
        pub(crate) fn max(xs: &[f32]) -> f32 {
            max_small(xs)
        }

        #[target_feature(enable = $features)]
        pub(crate) fn first_equal(xs: &[f32], m: f32) -> Option<usize> {
            first_equal_generic(xs, m)
        }

        #[target_feature(enable = $features)]
        pub(crate) fn divide_all(kept: &mut [(u32, f64)], z: f64) {
            divide_all_generic(kept, z)
        }

        #[target_feature(enable = $features)]
        pub(crate) fn add_where_below(
            logits: &mut [f32],
            words: &[u32],
            threshold: u32,
            delta: f32,
        ) -> usize {
            add_where_below_generic(logits, words, threshold, delta)
        }

        #[target_feature(enable = $features)]
        pub(crate) fn exp_blocks(
            xs: &[f32],
            m: f32,
            scale: f32,
            out: &mut [f32],
            blocks: &mut Blocks,
        ) {
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

        /// [`crate::fastmath::portable::exp2_nonpositive`] on 8 lanes: the same operations in the same order.
        #[target_feature(enable = $features)]
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

        #[target_feature(enable = $features)]
        pub(crate) fn collect_band(
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
    };
}

pub(super) mod avx2 {
    kernels!("avx2");
}

pub(super) mod avx512 {
    kernels!("avx2,avx512f,avx512vl");
}
