//! The evaluation engine behind the paper reproductions: attacks on watermarked token
//! sequences, detection curves over prefixes, and the metrics of the field: TPR at a fixed
//! FPR from the analytic p-value threshold, the empirical FPR of that threshold over many
//! random keys, and the number of tokens needed for detection.
//!
//! No I/O and no model: attacks that need a model's opinion (substitution and insertion
//! with plausible tokens) take its top-k proposals per position as input.

#![deny(missing_docs)]

pub mod attack;
pub mod curve;
pub mod metrics;
pub mod null;

pub use attack::{Attack, Edited, Pasted, copy_paste};
pub use curve::{Point, prefix_curve, tokens_to_detect};
pub use metrics::{FPRS, Rate, tpr_at};
pub use null::{NullRun, NullTrial, Test, random_key};

/// A deterministic random stream for `(seed, label, index)`, so every attack and key of an
/// evaluation is reproducible on its own, independent of evaluation order.
pub fn stream(seed: u64, label: &str, index: u64) -> rand_chacha::ChaCha20Rng {
    use rand_core::SeedableRng;
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"tracemark/eval-stream/v1");
    h.update(seed.to_le_bytes());
    h.update((label.len() as u64).to_le_bytes());
    h.update(label.as_bytes());
    h.update(index.to_le_bytes());
    rand_chacha::ChaCha20Rng::from_seed(h.finalize().into())
}

/// A uniform draw in [0, 1) with 53 random bits.
pub(crate) fn unit(rng: &mut impl rand_core::Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform index below `n` (n > 0), by rejection so that it is exactly uniform.
pub(crate) fn below(rng: &mut impl rand_core::Rng, n: usize) -> usize {
    let n = n as u64;
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return (x % n) as usize;
        }
    }
}
