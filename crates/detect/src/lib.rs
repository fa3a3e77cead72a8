//! Detection: score the (context, token) tuples of a token sequence under a key and turn
//! them into an exact p-value and a verdict.
//!
//! The pipeline is [`Scorer`] (which tuples count, and their scores) → [`exact_test`]
//! (binomial or gamma tail, in log space) → [`Verdict`]; [`window::scan`] adds a windowed
//! test for partly watermarked text. [`Detector`] composes them per document, from token
//! ids; [`TextDetector`] puts a tokenizer (`tracemark-io`) in front of it for text. Only the
//! text front end touches tokenizers; scoring from ids does no I/O.
//!
//! # Why dedup is on by default
//! The exact tests assume each scored tuple has an independent PRF value. A tuple that occurs
//! twice has the *same* value both times, so counting it twice double-counts one coin flip.
//! On repetitive text (lists, code, boilerplate, or any human text with stock phrases) that
//! inflates the statistic and the false-positive rate far beyond the nominal level. Counting
//! each distinct (PRF input, token) once restores exactness: under H0, for any fixed text and a
//! random key, the p-value is uniform (KGW: super-uniform, as the binomial is discrete).
//! `dedup = false` exists only to reproduce papers that did not dedup; its p-values are not valid.
#![deny(missing_docs)]

pub mod calibration;
pub mod dedup;
pub mod score;
pub mod statistic;
pub mod stats;
pub mod text;
pub mod window;

use serde::Serialize;
use tracemark_core::{TokenId, Watermark};

use score::Corpus;

pub use dedup::{TupleHashes, tuple_hash};
pub use score::{Scorer, SkipReason, Tally, TokenStatus, WindowSet};
pub use statistic::{TestResult, Verdict, exact_test};
pub use stats::PValue;
pub use text::{DocumentResult, TextDetector, TokenView};
pub use window::{DEFAULT_MIN_WINDOW, WindowScan};

/// How to detect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectOptions {
    /// Count each distinct tuple once (default). Off invalidates the p-value.
    pub dedup: bool,
    /// Run the windowed scan with this smallest window (in scored tuples).
    pub window: Option<usize>,
    /// Keep per-token outcomes for highlighting.
    pub per_token: bool,
    /// Significance level of the verdict.
    pub alpha: f64,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            dedup: true,
            window: None,
            per_token: false,
            alpha: 1e-4,
        }
    }
}

/// Detection result for one token sequence.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// The exact test over all scored tuples.
    #[serde(flatten)]
    pub test: TestResult,
    /// Decision at `alpha`; with a windowed scan, the smaller of the two p-values decides,
    /// each at level α/2 so the verdict's false-positive rate stays ≤ α.
    pub verdict: Verdict,
    /// The level used.
    pub alpha: f64,
    /// Whether tuples were deduplicated.
    pub dedup: bool,
    /// Counts of skipped tokens by reason.
    pub skipped: Skipped,
    /// Windowed scan, if requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowScan>,
    /// Per-token outcomes, if requested.
    #[serde(skip)]
    pub per_token: Option<Vec<TokenStatus>>,
}

/// Tokens not scored, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The first h tokens.
    pub prefix: u64,
    /// Repeated tuples.
    pub duplicate: u64,
    /// Windows found in the prompt.
    pub prompt: u64,
}

/// Detects one document at a time and keeps a corpus-wide aggregate with global dedup.
///
/// One scoring pass per document feeds both: each tuple is checked against the document's
/// and the corpus's dedup sets, and its PRF is computed once, when it is new to the document.
#[derive(Debug)]
pub struct Detector<'w> {
    options: DetectOptions,
    document: Scorer<'w>,
    corpus_seen: TupleHashes,
    corpus_tally: Tally,
    documents: u64,
}

impl<'w> Detector<'w> {
    /// A detector for `watermark`.
    pub fn new(watermark: &'w Watermark, options: DetectOptions) -> Self {
        Self {
            options,
            document: Scorer::new(watermark, options.dedup),
            corpus_seen: TupleHashes::new(),
            corpus_tally: Tally::default(),
            documents: 0,
        }
    }

    /// Detects a watermark in `tokens`; tuples whose window occurs in `prompt` are excluded.
    pub fn detect(&mut self, tokens: &[TokenId], prompt: Option<&[TokenId]>) -> Detection {
        let h = self.document.watermark().lookback();
        let exclude = prompt.map(|p| {
            let mut set = WindowSet::new(h);
            set.extend_from(p);
            set
        });
        let need_statuses = self.options.per_token || self.options.window.is_some();
        let mut statuses = need_statuses.then(|| Vec::with_capacity(tokens.len()));
        self.document.reset();
        let mut corpus = Corpus {
            seen: &mut self.corpus_seen,
            tally: Tally::default(),
        };
        let tally = self.document.score_pass(
            tokens,
            exclude.as_ref(),
            None,
            statuses.as_mut(),
            Some(&mut corpus),
        );
        self.corpus_tally.merge(&corpus.tally);
        self.documents += 1;

        let scheme = self.document.watermark().config().scheme;
        let window = self.options.window.map(|min_window| {
            let (values, positions): (Vec<f64>, Vec<usize>) = statuses
                .as_deref()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    TokenStatus::Scored(score) => Some((score.value(), i)),
                    TokenStatus::Skipped(_) => None,
                })
                .unzip();
            window::scan(&scheme, &values, &positions, min_window)
        });
        let per_token = if self.options.per_token {
            statuses
        } else {
            None
        };
        self.finish(exact_test(&scheme, &tally), &tally, window, per_token)
    }

    /// Number of documents seen.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// The test over every document so far as one stream, each distinct tuple counted once.
    pub fn aggregate(&self) -> Detection {
        let scheme = self.document.watermark().config().scheme;
        self.finish(
            exact_test(&scheme, &self.corpus_tally),
            &self.corpus_tally,
            None,
            None,
        )
    }

    fn finish(
        &self,
        test: TestResult,
        tally: &Tally,
        window: Option<WindowScan>,
        per_token: Option<Vec<TokenStatus>>,
    ) -> Detection {
        let alpha = self.options.alpha;
        let verdict = match &window {
            None => Verdict::decide(test.p(), test.scored, alpha),
            Some(w) => {
                let best = if w.p().ln() < test.p().ln() {
                    w.p()
                } else {
                    test.p()
                };
                Verdict::decide(best, test.scored, alpha / 2.0)
            }
        };
        Detection {
            test,
            verdict,
            alpha,
            dedup: self.options.dedup,
            skipped: Skipped {
                prefix: tally.skipped_prefix,
                duplicate: tally.skipped_duplicate,
                prompt: tally.skipped_prompt,
            },
            window,
            per_token,
        }
    }
}
