//! The evidence report's data: everything `report.json` holds and `report.html` shows.
//!
//! The types serialize to `report.json` as they are; `tracemark-report` turns the same
//! value into one self-contained HTML page. No field ever holds key material: keys appear
//! only as their public key id.

use serde::Serialize;
use tracemark_detect::TestResult;

use crate::controls::Controls;
use crate::scoring::CurvePoint;
use crate::tuples::{Skip, TupleCounts};
use crate::verdict::Finding;

/// A whole evidence report: one key, one or more suspects or tests.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Tool name and version that produced the report.
    pub tool: String,
    /// The watermark key's public fingerprint; never the secret.
    pub key_id: String,
    /// The key's public configuration, e.g. `kgw(γ=0.25, δ=2) lefthash(h=2)`.
    pub scheme: String,
    /// One entry per suspect and test.
    pub investigations: Vec<Investigation>,
    /// Which accounts a suspect learned from, under a master key; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<AttributionSection>,
}

/// The attribution of one suspect to accounts, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AttributionSection {
    /// The suspect.
    pub suspect: String,
    /// How many accounts were served.
    pub served_accounts: usize,
    /// Family-wise level of the attributed list.
    pub alpha: f64,
    /// Distinct tuples scored.
    pub scored: u64,
    /// Of them, green.
    pub green: u64,
    /// The strongest accounts, strongest first.
    pub ranking: Vec<RankedAccount>,
    /// Accounts attributed at family-wise level α.
    pub attributed: Vec<String>,
    /// Set tests.
    pub set_tests: Vec<SetTestRow>,
    /// log10 p of phantom accounts (ids never served): the calibration.
    pub phantom_log10_p: Vec<f64>,
    /// Power: the smallest share of the suspect's green tuples an account needs, at best.
    pub min_share: Option<f64>,
    /// The demo's true harvesters, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub harvesters: Option<Vec<String>>,
    /// The demo: p of the set test of the true harvesters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub harvesters_set_p: Option<f64>,
    /// The demo: p of the set test of as many innocent accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub innocent_set_p: Option<f64>,
}

/// One account in the report's ranking.
#[derive(Debug, Clone, Serialize)]
pub struct RankedAccount {
    /// The id.
    pub account: String,
    /// 1 for the strongest.
    pub rank: usize,
    /// Green tuples with its colour.
    pub score: u64,
    /// log10 p.
    pub log10_p: f64,
    /// Whether it is attributed.
    pub attributed: bool,
    /// Open weights: how many of its served answers the suspect read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers_read: Option<u64>,
}

/// One set test in the report.
#[derive(Debug, Clone, Serialize)]
pub struct SetTestRow {
    /// What the set is.
    pub name: String,
    /// Its size.
    pub size: usize,
    /// log10 p.
    pub log10_p: f64,
}

impl Report {
    /// A report on `investigations` under `key` (only its public id and configuration are kept).
    pub fn new(key: &tracemark_core::Key, investigations: Vec<Investigation>) -> Self {
        Self {
            tool: format!("tracemark {}", env!("CARGO_PKG_VERSION")),
            key_id: key.id().to_string(),
            scheme: key.describe(),
            investigations,
            attribution: None,
        }
    }
}

/// Which test produced an investigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Closed model: only the suspect's answers to prompts are available.
    Closed,
    /// Open model ("reading mode"): the watermarked texts are teacher-forced through the
    /// suspect's weights and its top-1 predictions are scored.
    Open,
}

/// One test on one suspect, with its calibration and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Investigation {
    /// The suspect: an answers file, a model file, or a name.
    pub suspect: String,
    /// Closed or open test.
    pub mode: Mode,
    /// Supervised: only tuples whose window occurs in the watermarked training corpus count.
    pub supervised: bool,
    /// With `supervised`: only the N most frequent training windows were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_top: Option<usize>,
    /// Whether tuples whose window occurs in the answer's own prompt were excluded.
    pub prompt_exclusion: bool,
    /// Significance level of the verdict.
    pub alpha: f64,
    /// What was seen, skipped and scored.
    pub counts: TupleCounts,
    /// The exact test under the true key.
    pub test: TestResult,
    /// log10 p against scored tuples, in corpus order, ending at the final value.
    pub curve: Vec<CurvePoint>,
    /// The same test under random keys.
    pub controls: Controls,
    /// The verdict and the reason for it.
    pub finding: Finding,
    /// A few suspect outputs with their tokens marked.
    pub samples: Vec<Sample>,
}

/// A suspect output (closed) or a watermarked text read by the suspect (open), cut into
/// token pieces.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    /// The record's id or line, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The prompt that produced it, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The text, piece by piece; the pieces concatenate to the whole text.
    pub pieces: Vec<Piece>,
}

/// One token's text and what happened to its tuple.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Piece {
    /// The token's text.
    pub text: String,
    /// Open mode: the text of the suspect's top-1 prediction at this position, which is
    /// the token that was scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted: Option<String>,
    /// The outcome.
    pub mark: Mark,
}

/// The outcome of one position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Mark {
    /// KGW: scored, green or red.
    Kgw {
        /// Whether the scored token is green.
        green: bool,
    },
    /// Gumbel: scored, with −ln(1−u) (mean 1 under H0; large values are evidence).
    Gumbel {
        /// The score.
        score: f64,
    },
    /// Not scored, and why.
    Skipped {
        /// Why.
        reason: Skip,
    },
}
