//! Radioactivity: was a suspect model trained on text watermarked with our key?
//!
//! A model fine-tuned on watermarked answers reproduces their green-list bias (Sander et
//! al., 2024). This crate turns that into a test with a valid p-value:
//!
//! 1. **Collect** the tuples to score, once, independently of any key ([`TupleSet`]):
//!    - closed model: the suspect's answers, with windows from each answer's own prompt
//!      excluded (watermarked questions would otherwise make a clean model look
//!      radioactive) and, in the supervised setting, only windows seen in the watermarked
//!      training corpus ([`WindowCounts`]);
//!    - open model: the watermarked texts teacher-forced through the suspect, each window
//!      paired with the suspect's top-1 prediction ([`read_with_model`]);
//!    - in both, a global dedup: each (window, token) tuple counts once in the whole corpus.
//! 2. **Score** them under the key and run the exact test ([`score_tuples`]).
//! 3. **Calibrate**: the same test under M random keys ([`run_controls`]).
//! 4. **Decide** ([`Finding::decide`]) into the evidence report's data ([`Report`]), which
//!    `tracemark-report` renders.
//!
//! [`by_account`] reads each account's served answers through an open suspect, for account
//! attribution. [`collect`] streams the inputs (suspect answers, watermarked texts, training corpora) from
//! files through a tokenizer into the tuple set; everything after collection is pure.

#![deny(missing_docs)]

pub mod by_account;
pub mod collect;
pub mod controls;
mod reading;
pub mod report;
mod scoring;
pub mod tuples;
pub mod verdict;

pub use controls::{ControlOptions, Controls, DEFAULT_CONTROLS, run_controls};
pub use reading::{READ_BLOCK, read_block, read_with_model};
pub use report::{
    AttributionSection, Investigation, Mark, Mode, Piece, RankedAccount, Report, Sample, SetTestRow,
};
pub use scoring::{CurvePoint, Scored, score_tuples};
pub use tuples::{Outcome, Skip, TupleCounts, TupleSet, WindowCounts};
pub use verdict::{Finding, Verdict, fmt_p};

use tracemark_core::{Key, Watermark};

/// Default significance level of a radioactivity verdict.
pub const DEFAULT_ALPHA: f64 = 1e-3;

/// Points on the evidence curve of a report.
pub const CURVE_POINTS: usize = 200;

/// Settings of one investigation.
#[derive(Debug, Clone)]
pub struct TestSettings {
    /// The suspect's name.
    pub suspect: String,
    /// Closed or open.
    pub mode: Mode,
    /// Whether a training filter was applied, and its top-N.
    pub supervised: Option<Option<usize>>,
    /// Whether prompt windows were excluded.
    pub prompt_exclusion: bool,
    /// Significance level.
    pub alpha: f64,
    /// Random-key controls.
    pub controls: ControlOptions,
}

/// Scores `tuples` under `key`, runs the random-key controls and decides. `progress` is
/// called once per finished control key. Samples are left empty for the caller to fill.
pub fn investigate(
    key: &Key,
    tuples: &TupleSet,
    settings: &TestSettings,
    progress: &(dyn Fn() + Sync),
) -> Investigation {
    let wm = Watermark::new(key);
    let scored = score_tuples(&wm, tuples, CURVE_POINTS);
    let controls = run_controls(
        key,
        tuples,
        scored.test.log10_p,
        &settings.controls,
        progress,
    );
    let mut finding = Finding::decide(
        scored.test.scored,
        scored.test.log10_p,
        settings.alpha,
        &controls,
    );
    let counts = tuples.counts();
    if settings.prompt_exclusion && counts.without_prompt > 0 {
        finding.reason.push_str(&missing_prompts_caveat(counts));
    }
    Investigation {
        suspect: settings.suspect.clone(),
        mode: settings.mode,
        supervised: settings.supervised.is_some(),
        filter_top: settings.supervised.flatten(),
        prompt_exclusion: settings.prompt_exclusion,
        alpha: settings.alpha,
        counts: *counts,
        test: scored.test,
        curve: scored.curve,
        controls,
        finding,
        samples: Vec::new(),
    }
}

/// What the verdict must add when some answers came without their prompt.
fn missing_prompts_caveat(counts: &TupleCounts) -> String {
    let all = counts.without_prompt == counts.documents;
    format!(
        ". Caveat: prompt-window exclusion could not run for {} of {} answers, which have \
         no prompt (give the prompts with --prompts P.jsonl, matched by id or order, or a \
         \"prompt\" field per answer){}",
        counts.without_prompt,
        counts.documents,
        if all {
            "; if the prompts themselves carried the watermark, this verdict is not valid"
        } else {
            ""
        }
    )
}
