//! Calibration inside every verdict: the same test under random keys.
//!
//! Under H0 (the suspect never saw text watermarked with the true key) the true key is just
//! one more random key. Re-running the test on the same tuples with M random keys gives:
//! - the true key's rank among all M + 1 keys, and the permutation p-value (rank)/(M + 1),
//!   valid whatever the dependence in the data;
//! - the empirical distribution of the analytic p-value on this very data, which must look
//!   uniform; if the random keys find "signal" too, the independence assumption behind the
//!   analytic p-value fails here and the verdict says so.

use rayon::prelude::*;
use serde::Serialize;
use tracemark_core::{Key, Watermark};
use tracemark_detect::calibration::{KsTest, ks_valid};

use crate::scoring::score_tuples;
use crate::tuples::TupleSet;

/// Default number of random keys.
pub const DEFAULT_CONTROLS: usize = 200;

/// How to draw the random keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ControlOptions {
    /// Number of random keys M.
    pub keys: usize,
    /// Seed of the random-key generator, so a report can be regenerated exactly. The keys
    /// are independent of the true key whatever the seed.
    pub seed: u64,
}

impl Default for ControlOptions {
    fn default() -> Self {
        Self {
            keys: DEFAULT_CONTROLS,
            seed: 0,
        }
    }
}

/// The outcome of the random-key controls.
#[derive(Debug, Clone, Serialize)]
pub struct Controls {
    /// Number of random keys M (the true key is never among them).
    pub keys: usize,
    /// Seed the keys were drawn from.
    pub seed: u64,
    /// log10 p of each random key, in draw order.
    pub log10_p: Vec<f64>,
    /// The true key's rank among all M + 1 keys: 1 + the number of random keys with a p-value
    /// at least as small.
    pub rank: usize,
    /// rank / (M + 1): the permutation p-value.
    pub permutation_p: f64,
    /// One-sided KS test that the random-key p-values are not smaller than uniform.
    pub ks: KsTest,
}

/// The random keys for `options`, with `true_key`'s configuration, skipping the true key.
pub fn control_keys(true_key: &Key, options: &ControlOptions) -> Vec<Key> {
    (0u64..)
        .map(|i| Key::random(options.seed, i, *true_key.config()))
        .filter(|key| key.id() != true_key.id())
        .take(options.keys)
        .collect()
}

/// Runs the test under every random key, in parallel, and ranks the true key's `log10_p`.
/// `progress` is called once per finished key.
pub fn run_controls(
    true_key: &Key,
    tuples: &TupleSet,
    true_log10_p: f64,
    options: &ControlOptions,
    progress: &(dyn Fn() + Sync),
) -> Controls {
    let keys = control_keys(true_key, options);
    let log10_p: Vec<f64> = keys
        .par_iter()
        .map(|key| {
            let wm = Watermark::new(key);
            let log10_p = score_tuples(&wm, tuples, 0).test.log10_p;
            progress();
            log10_p
        })
        .collect();
    summarize(options, log10_p, true_log10_p)
}

/// Ranks the true key among the controls and checks their uniformity.
pub fn summarize(options: &ControlOptions, log10_p: Vec<f64>, true_log10_p: f64) -> Controls {
    let as_low = log10_p.iter().filter(|&&p| p <= true_log10_p).count();
    let p_values: Vec<f64> = log10_p.iter().map(|l| 10f64.powf(*l)).collect();
    let keys = log10_p.len();
    Controls {
        keys,
        seed: options.seed,
        rank: as_low + 1,
        permutation_p: (as_low + 1) as f64 / (keys + 1) as f64,
        ks: ks_valid(&p_values),
        log10_p,
    }
}
