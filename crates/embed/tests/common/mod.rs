//! Helpers shared by the integration tests.
#![allow(dead_code)]

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};

/// `n` draws from N(0, sd²), Box–Muller from `ChaCha20Rng::seed_from_u64(seed)`.
pub fn gaussian_logits(seed: u64, n: usize, sd: f64) -> Vec<f32> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut unit = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            let (a, b) = (unit(), unit());
            (sd * (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
        })
        .collect()
}

pub fn kgw(gamma: f64, delta: f64) -> Scheme {
    Scheme::Kgw {
        gamma: Gamma::new(gamma).unwrap(),
        delta: Delta::new(delta).unwrap(),
    }
}

pub fn key(secret: u8, scheme: Scheme, kind: SeedingKind, h: usize) -> Key {
    key_from(secret_bytes(u64::from(secret)), scheme, kind, h)
}

pub fn key_from(secret: [u8; 32], scheme: Scheme, kind: SeedingKind, h: usize) -> Key {
    let config = WatermarkConfig {
        scheme,
        seeding: Seeding::new(kind, h).unwrap(),
    };
    Key::from_secret(secret, config)
}

/// 32 secret bytes derived from an integer.
pub fn secret_bytes(i: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    ChaCha20Rng::seed_from_u64(i ^ 0x5eed).fill_bytes(&mut s);
    s
}

/// Pearson's chi-square statistic of `counts` against probabilities `p`.
pub fn chi_square(counts: &[u64], p: &[f64]) -> f64 {
    let n: u64 = counts.iter().sum();
    counts
        .iter()
        .zip(p)
        .map(|(&c, &p)| {
            let expected = p * n as f64;
            (c as f64 - expected).powi(2) / expected
        })
        .sum()
}

/// Upper 0.1% points of chi-square with 1..=9 degrees of freedom.
pub const CHI2_CRIT_001: [f64; 9] = [
    10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877,
];
