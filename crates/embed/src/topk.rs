//! Top-k selection over the logits without sorting the vocabulary.
//!
//! A small buffer of keys is cut back to k with `select_nth_unstable` whenever it fills, and
//! 16-logit chunks below the running k-th logit are skipped. The buffer's order after each
//! cut depends on everything pushed before it, and the nucleus's bins keep that order, so
//! every build runs this very code: the SIMD builds only compile it with wider registers.

use crate::fastmath::key_id;

/// Leaves the [`logit_key`]s of the `k` highest logits in `buf`, in no particular order.
/// Needs `0 < k < logits.len()`.
pub(crate) fn top_k_keys(logits: &[f32], k: usize, buf: &mut Vec<u64>) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::avx512() {
            // SAFETY: the CPU supports AVX-512F and AVX-512VL, checked just above.
            return unsafe { top_k_keys_avx512(logits, k, buf) };
        }
        if crate::cpu::avx2() {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { top_k_keys_avx2(logits, k, buf) };
        }
    }
    top_k_keys_generic(logits, k, buf)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn top_k_keys_avx2(logits: &[f32], k: usize, buf: &mut Vec<u64>) {
    top_k_keys_generic(logits, k, buf)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512vl")]
fn top_k_keys_avx512(logits: &[f32], k: usize, buf: &mut Vec<u64>) {
    top_k_keys_generic(logits, k, buf)
}

/// A key ordering tokens by logit (higher first after a descending sort), then lower id.
fn logit_key(logit: f32, id: u32) -> u64 {
    let bits = if logit.is_nan() {
        f32::NEG_INFINITY
    } else {
        logit
    }
    .to_bits();
    let ordered = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    };
    (u64::from(ordered) << 32) | u64::from(!id)
}

/// [`top_k_keys`], inlined into each build.
#[inline(always)]
fn top_k_keys_generic(logits: &[f32], k: usize, buf: &mut Vec<u64>) {
    debug_assert!(k > 0 && k < logits.len());
    const CHUNK: usize = 16;
    let cap = 4 * k.max(CHUNK);
    buf.clear();
    // Until the first cut every key is admitted: real keys are all > 0.
    let (mut min_key, mut min_logit) = (0u64, f32::NEG_INFINITY);
    for (c, chunk) in logits.chunks(CHUNK).enumerate() {
        // Skip the chunk when `max_small(chunk) < min_logit`, tested without a horizontal
        // maximum: for a finite or +∞ `min_logit` that is "no logit ≥ min_logit" (NaN
        // compares false, as `max_small` ignores it); for −∞ or NaN nothing is ever skipped.
        let skippable = min_logit > f32::NEG_INFINITY;
        if skippable && !chunk.iter().fold(false, |any, &x| any | (x >= min_logit)) {
            continue;
        }
        for (j, &logit) in chunk.iter().enumerate() {
            let key = logit_key(logit, (c * CHUNK + j) as u32);
            if key > min_key {
                buf.push(key);
                if buf.len() == cap {
                    cut(buf, k);
                    min_key = buf[k - 1];
                    min_logit = logits[key_id(min_key)];
                }
            }
        }
    }
    if buf.len() > k {
        cut(buf, k);
    }
}

/// Keeps the `k` largest keys, the smallest of them at `buf[k − 1]`.
fn cut(buf: &mut Vec<u64>, k: usize) {
    buf.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
    buf.truncate(k);
}
