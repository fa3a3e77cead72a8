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
/// The first document's set is the corpus's too (every tuple new to one is new to the
/// other), so a single document, however long, keeps one set.
///
/// A long document can come in pieces ([`begin`](Self::begin), [`feed`](Self::feed),
/// [`end`](Self::end)): each piece's first tokens are scored with the window carried over from
/// the piece before, so the result is exactly that of [`detect`](Self::detect) on the whole.
#[derive(Debug)]
pub struct Detector<'w> {
    options: DetectOptions,
    document: Scorer<'w>,
    /// The corpus's dedup set, from the second document on.
    corpus_seen: Option<TupleHashes>,
    corpus_tally: Tally,
    documents: u64,
    open: Option<OpenDocument>,
}

/// The state of a document being fed in pieces.
#[derive(Debug)]
struct OpenDocument {
    exclude: Option<WindowSet>,
    tally: Tally,
    /// This document's outcomes under the corpus's dedup.
    corpus_tally: Tally,
    statuses: Option<Vec<TokenStatus>>,
    /// The last h tokens so far: the window of the next piece's first tokens.
    carry: Vec<TokenId>,
}

impl<'w> Detector<'w> {
    /// A detector for `watermark`.
    pub fn new(watermark: &'w Watermark, options: DetectOptions) -> Self {
        Self {
            options,
            document: Scorer::new(watermark, options.dedup),
            corpus_seen: None,
            corpus_tally: Tally::default(),
            documents: 0,
            open: None,
        }
    }

    /// Detects a watermark in `tokens`; tuples whose window occurs in `prompt` are excluded.
    pub fn detect(&mut self, tokens: &[TokenId], prompt: Option<&[TokenId]>) -> Detection {
        self.begin(prompt);
        self.feed(tokens);
        self.end()
    }

    /// Starts a document (dropping one left unfinished); tuples whose window occurs in
    /// `prompt` are excluded.
    pub fn begin(&mut self, prompt: Option<&[TokenId]>) {
        let h = self.document.watermark().lookback();
        let exclude = prompt.map(|p| {
            let mut set = WindowSet::new(h);
            set.extend_from(p);
            set
        });
        let need_statuses = self.options.per_token || self.options.window.is_some();
        if self.documents > 0 && self.corpus_seen.is_none() {
            // The first document's tuples are the corpus's so far.
            self.corpus_seen = Some(self.document.take_seen());
        }
        self.document.reset();
        self.open = Some(OpenDocument {
            exclude,
            tally: Tally::default(),
            corpus_tally: Tally::default(),
            statuses: need_statuses.then(Vec::new),
            carry: Vec::new(),
        });
    }

    /// Scores the next `tokens` of the document begun last.
    ///
    /// # Panics
    /// If no document was begun.
    pub fn feed(&mut self, tokens: &[TokenId]) {
        let h = self.document.watermark().lookback();
        let open = self.open.as_mut().expect("Detector::feed before begin");
        let carried = open.carry.len();
        let mut slice = std::mem::take(&mut open.carry);
        slice.extend_from_slice(tokens);
        let mut corpus = self.corpus_seen.as_mut().map(|seen| Corpus {
            seen,
            tally: std::mem::take(&mut open.corpus_tally),
        });
        let mut statuses = open
            .statuses
            .as_ref()
            .map(|_| Vec::with_capacity(slice.len()));
        let mut tally = self.document.score_pass(
            std::mem::take(&mut open.tally),
            &slice,
            open.exclude.as_ref(),
            None,
            statuses.as_mut(),
            corpus.as_mut(),
        );
        // The carried tokens sit before position h, so they count as prefix here; they
        // were counted with the piece before.
        let mut corpus_tally = corpus.map(|c| c.tally);
        for t in std::iter::once(&mut tally).chain(corpus_tally.as_mut()) {
            t.tokens -= carried as u64;
            t.skipped_prefix -= carried as u64;
        }
        open.tally = tally;
        if let Some(c) = corpus_tally {
            open.corpus_tally = c;
        }
        if let (Some(all), Some(new)) = (open.statuses.as_mut(), statuses) {
            all.extend_from_slice(&new[carried..]);
        }
        open.carry = slice[slice.len().saturating_sub(h)..].to_vec();
    }

    /// Finishes the document begun last and decides.
    ///
    /// # Panics
    /// If no document was begun.
    pub fn end(&mut self) -> Detection {
        let OpenDocument {
            tally,
            corpus_tally,
            statuses,
            ..
        } = self.open.take().expect("Detector::end before begin");
        // The first document's outcomes under corpus dedup are its own.
        let first = self.corpus_seen.is_none();
        self.corpus_tally
            .merge(if first { &tally } else { &corpus_tally });
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
