//! Scoring the collected tuples under one key.

use tracemark_core::{SeedingKind, TokenScore, Watermark};
use tracemark_detect::{Scorer, Tally, TestResult, exact_test};

use serde::Serialize;

use crate::tuples::TupleSet;

/// One point of the evidence curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Tuples scored so far.
    pub scored: u64,
    /// log10 of the p-value over those tuples.
    pub log10_p: f64,
}

/// The test under one key.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The exact test over all scored tuples.
    pub test: TestResult,
    /// log10 p after every `n / points` tuples, and at the end; empty when no curve was asked.
    pub curve: Vec<CurvePoint>,
}

/// Scores every tuple of `tuples` under `wm` and runs the exact test (binomial for KGW,
/// gamma for Gumbel). `curve_points` > 0 also records that many points of the curve.
///
/// Under MinHash two different windows can share a PRF input, so tuples are deduplicated
/// again on (PRF input, token) for this key; LeftHash and SelfHash inputs are the window
/// itself, and the collection's dedup already covers them.
pub fn score_tuples(wm: &Watermark, tuples: &TupleSet, curve_points: usize) -> Scored {
    let scheme = wm.config().scheme;
    let mut scorer = Scorer::new(wm, wm.config().seeding.kind == SeedingKind::MinHash);
    let n = tuples.len();
    let every = if curve_points == 0 {
        usize::MAX
    } else {
        n.div_ceil(curve_points).max(1)
    };
    let mut tally = Tally {
        tokens: tuples.counts().tokens,
        ..Tally::default()
    };
    let mut curve = Vec::new();
    for (i, (window, token)) in tuples.iter().enumerate() {
        match scorer.score_tuple(window, token) {
            Some(score) => {
                tally.scored += 1;
                tally.score_sum += score.value();
                if score == TokenScore::Green(true) {
                    tally.green += 1;
                }
            }
            None => tally.skipped_duplicate += 1,
        }
        if (i + 1) % every == 0 && i + 1 < n {
            curve.push(point(&scheme, &tally));
        }
    }
    let test = exact_test(&scheme, &tally);
    if curve_points > 0 {
        curve.push(point(&scheme, &tally));
    }
    Scored { test, curve }
}

fn point(scheme: &tracemark_core::Scheme, tally: &Tally) -> CurvePoint {
    CurvePoint {
        scored: tally.scored,
        log10_p: exact_test(scheme, tally).log10_p,
    }
}
