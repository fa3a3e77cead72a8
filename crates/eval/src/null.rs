//! The null hypothesis in practice: score texts written without any key under many random
//! keys, and count how often each test's p-value falls below a nominal level.
//!
//! For a fixed text and a random key, every PRF value is fresh, so the trials of one text
//! under different keys are independent. Trials of different texts under the same key
//! share a key but not (after dedup) tuples, so pooling them is a close approximation; the
//! reported intervals treat all trials as independent.

use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;

use tracemark_core::{Key, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::calibration::{FprEstimate, empirical_fpr};
use tracemark_detect::stats::normal_sf_ln;
use tracemark_detect::{Scorer, SkipReason, Tally, TokenStatus, exact_test};

/// One text under one random key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NullTrial {
    /// Tuples scored.
    pub scored: u64,
    /// p-value of the exact test (binomial or gamma tail).
    pub exact: f64,
    /// p-value of the one-sided z-test (normal approximation).
    pub z: f64,
}

/// Which test's p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// The exact binomial (KGW) or gamma (Gumbel) tail.
    Exact,
    /// The normal approximation, as in Kirchenbauer et al.
    Z,
}

/// Trials of every text under every key, key-major, with repeated tuples counted once
/// (`dedup`, the valid test) and counted every time (`repeats`, as papers that did not
/// dedup).
#[derive(Debug, Clone)]
pub struct NullRun {
    /// Random keys used.
    pub keys: usize,
    /// `keys × texts` trials with dedup.
    pub dedup: Vec<NullTrial>,
    /// `keys × texts` trials without dedup.
    pub repeats: Vec<NullTrial>,
}

impl NullRun {
    /// Scores every text of `texts` under `keys` random keys of `config` (key `i` from
    /// [`random_key`]`(config, seed, i)`), in parallel over keys. `on_key` is called after
    /// each key, from any thread.
    ///
    /// One scoring pass serves both variants: which tokens are first occurrences of their
    /// tuple does not depend on the key, except under MinHash (where two windows can share
    /// a PRF input), which takes a second pass.
    pub fn run(
        config: WatermarkConfig,
        texts: &[Vec<u32>],
        keys: usize,
        seed: u64,
        on_key: &(dyn Fn() + Sync),
    ) -> Self {
        let h = config.seeding.lookback();
        let minhash = config.seeding.kind == SeedingKind::MinHash;
        let firsts: Vec<Vec<bool>> = texts.iter().map(|t| first_occurrences(t, h)).collect();
        let per_key: Vec<Vec<(NullTrial, NullTrial)>> = (0..keys)
            .into_par_iter()
            .map(|i| {
                let wm = Watermark::new(&random_key(config, seed, i as u64));
                let mut all = Scorer::new(&wm, false);
                let mut once = Scorer::new(&wm, true);
                let mut statuses = Vec::new();
                let trials = texts
                    .iter()
                    .zip(&firsts)
                    .map(|(text, first)| {
                        statuses.clear();
                        let repeats = all.score(text, None, None, Some(&mut statuses));
                        let dedup = if minhash {
                            once.reset();
                            once.score(text, None, None, None)
                        } else {
                            tally_of(&statuses, first)
                        };
                        (trial(&config, &dedup), trial(&config, &repeats))
                    })
                    .collect();
                on_key();
                trials
            })
            .collect();
        let (dedup, repeats) = per_key.into_iter().flatten().unzip();
        Self {
            keys,
            dedup,
            repeats,
        }
    }

    /// The trials with or without dedup.
    pub fn trials(&self, dedup: bool) -> &[NullTrial] {
        if dedup { &self.dedup } else { &self.repeats }
    }

    /// The p-values of `test`, one per trial.
    pub fn p_values(&self, dedup: bool, test: Test) -> Vec<f64> {
        self.trials(dedup)
            .iter()
            .map(|t| match test {
                Test::Exact => t.exact,
                Test::Z => t.z,
            })
            .collect()
    }

    /// The empirical FPR of `test` at level `alpha`, with a 95% Clopper–Pearson interval.
    pub fn fpr(&self, dedup: bool, test: Test, alpha: f64) -> FprEstimate {
        empirical_fpr(&self.p_values(dedup, test), alpha)
    }
}

/// Whether each token is the first occurrence of its (window, token) tuple; the first h
/// tokens, which are never scored, are marked false.
fn first_occurrences(text: &[u32], h: usize) -> Vec<bool> {
    let mut seen = HashSet::new();
    (0..text.len())
        .map(|i| i >= h && seen.insert(&text[i - h..=i]))
        .collect()
}

/// The dedup tally from a no-dedup pass: only first occurrences count.
fn tally_of(statuses: &[TokenStatus], first: &[bool]) -> Tally {
    let mut t = Tally::default();
    for (&status, &first) in statuses.iter().zip(first) {
        t.add(match status {
            TokenStatus::Scored(_) if !first => TokenStatus::Skipped(SkipReason::Duplicate),
            other => other,
        });
    }
    t
}

fn trial(config: &WatermarkConfig, tally: &Tally) -> NullTrial {
    let r = exact_test(&config.scheme, tally);
    NullTrial {
        scored: r.scored,
        exact: r.p_value,
        z: if r.scored == 0 {
            1.0
        } else {
            normal_sf_ln(r.z).exp()
        },
    }
}

/// Random key `index` of the stream `seed`, for `config`: reproducible, and independent
/// across indices.
pub fn random_key(config: WatermarkConfig, seed: u64, index: u64) -> Key {
    Key::random(seed, index, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_core::{Delta, Gamma, Scheme, Seeding, SeedingKind};

    fn kgw() -> WatermarkConfig {
        WatermarkConfig {
            scheme: Scheme::Kgw {
                gamma: Gamma::new(0.25).unwrap(),
                delta: Delta::new(2.0).unwrap(),
            },
            seeding: Seeding::new(SeedingKind::LeftHash, 1).unwrap(),
        }
    }

    #[test]
    fn keys_are_reproducible_and_distinct() {
        assert_eq!(random_key(kgw(), 1, 5).id(), random_key(kgw(), 1, 5).id());
        assert_ne!(random_key(kgw(), 1, 5).id(), random_key(kgw(), 1, 6).id());
        assert_ne!(random_key(kgw(), 1, 5).id(), random_key(kgw(), 2, 5).id());
    }

    #[test]
    fn dedup_keeps_a_repetitive_text_calibrated_and_no_dedup_does_not() {
        // One phrase of 20 distinct tokens, repeated 10 times.
        let text: Vec<u32> = (0..200).map(|i| 100 + (i % 20)).collect();
        let run = NullRun::run(kgw(), &[text], 2000, 3, &|| {});
        assert_eq!(run.dedup.len(), 2000);
        assert!(run.dedup.iter().all(|t| t.scored == 20));
        assert!(run.repeats.iter().all(|t| t.scored == 199));
        // With dedup the exact test is valid: FPR at 1e-2 is at most nominal up to noise.
        assert!(run.fpr(true, Test::Exact, 1e-2).lower <= 1e-2);
        // Without it, 10 copies of each coin flip: about 20% of keys reach p ≤ 1e-2.
        let off = run.fpr(false, Test::Exact, 1e-2);
        assert!(off.lower > 0.05, "{off:?}");
    }
}

#[cfg(test)]
mod one_pass {
    use super::*;
    use tracemark_core::{Delta, Gamma, Scheme, Seeding};

    /// The one-pass dedup tally equals the dedup scorer's for every non-MinHash seeding.
    #[test]
    fn one_pass_dedup_matches_the_dedup_scorer() {
        let text: Vec<u32> = (0..400u32).map(|i| (i * i + 3 * i) % 37).collect();
        for (kind, h) in [
            (SeedingKind::LeftHash, 0),
            (SeedingKind::LeftHash, 1),
            (SeedingKind::LeftHash, 3),
            (SeedingKind::SelfHash, 3),
        ] {
            for scheme in [
                Scheme::Gumbel,
                Scheme::Kgw {
                    gamma: Gamma::new(0.25).unwrap(),
                    delta: Delta::new(2.0).unwrap(),
                },
            ] {
                let config = WatermarkConfig {
                    scheme,
                    seeding: Seeding::new(kind, h).unwrap(),
                };
                let wm = Watermark::new(&random_key(config, 9, 0));
                let mut statuses = Vec::new();
                Scorer::new(&wm, false).score(&text, None, None, Some(&mut statuses));
                let one = tally_of(&statuses, &first_occurrences(&text, h));
                let two = Scorer::new(&wm, true).score(&text, None, None, None);
                assert_eq!(
                    (one.scored, one.green),
                    (two.scored, two.green),
                    "{kind:?} h={h}"
                );
                assert!((one.score_sum - two.score_sum).abs() < 1e-9);
            }
        }
    }
}
