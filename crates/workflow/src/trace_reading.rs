//! Tracing an open suspect (its weights) to accounts: a sample of each account's served
//! answers is read through the suspect, the readings together give the radioactivity
//! verdict, and each account's own reading gives its own exact test.

use std::path::Path;

use serde::Serialize;
use tracemark_attribution::{
    AccountTable, ColourTable, attribute_readings, check_accounts, phantom_readings,
};
use tracemark_core::{Key, Watermark};
use tracemark_io::{Source, TextTokenizer};
use tracemark_model::LanguageModel;
use tracemark_radioactivity::by_account::{read_by_account, sample_served};
use tracemark_radioactivity::{ControlOptions, Mode, TestSettings, investigate};

use crate::investigate::{BYTES, RANDOM_KEYS};
use crate::trace::{PHANTOMS, Traced, assumed_colour_rate, require_master};
use crate::{Progress, WorkflowError};

/// Served answers read per account by default: 24,000 accounts then cost 96,000 answers.
pub const DEFAULT_PER_ACCOUNT: usize = 4;

/// Unit of the reading task of [`trace_reading`].
pub const ANSWERS: &str = "answers";

/// One open-weights attribution.
pub struct ReadTracing<'a> {
    /// The provider's master key.
    pub key: &'a Key,
    /// The tokenizer the watermark used (the suspect must share it).
    pub tokenizer: &'a TextTokenizer,
    /// The suspect.
    pub model: &'a mut dyn LanguageModel,
    /// The served answers (JSONL records with an `account` field).
    pub served: &'a Path,
    /// Answers read per account (the first ones served).
    pub per_account: usize,
    /// The served account ids.
    pub accounts: &'a [String],
    /// Accounts the provider already suspects: the set test.
    pub suspected: Option<&'a [String]>,
    /// The suspect's name in the report.
    pub suspect: String,
    /// Significance level of the verdict and family-wise level of the attributed list.
    pub alpha: f64,
    /// Random-key controls of the verdict.
    pub controls: ControlOptions,
}

/// How much was read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingSummary {
    /// The cap on answers read per account.
    pub per_account: usize,
    /// Accounts with at least one answer read.
    pub accounts_read: usize,
    /// Served answers in the file for the listed accounts.
    pub answers_served: u64,
    /// Answers read.
    pub answers_read: u64,
    /// Tokens read through the suspect.
    pub tokens_read: u64,
    /// Answers in the file served to accounts that are not in the list (skipped).
    pub unlisted_answers: u64,
}

/// Reads each account's served answers through the suspect, then gives the radioactivity
/// verdict on all readings and each account's test on its own. The key, the account list
/// and the set are checked before anything is read.
pub fn trace_reading(
    t: ReadTracing<'_>,
    progress: &dyn Progress,
) -> Result<(Traced, ReadingSummary), WorkflowError> {
    let layer = require_master(t.key)?;
    if t.per_account == 0 {
        return Err(WorkflowError::Invalid(
            "--per-account must be at least 1".into(),
        ));
    }
    check_accounts(t.accounts, t.suspected)?;
    let h = t.key.config().seeding.lookback();
    let source = Source::File(t.served.to_path_buf());
    progress.start(source.size().unwrap_or(0), BYTES);
    let mut last = 0;
    let sample = sample_served(&source, t.accounts, t.per_account, &mut |bytes| {
        progress.inc(bytes.saturating_sub(last));
        last = bytes;
    })?;
    progress.finish();
    if sample.is_empty() {
        return Err(WorkflowError::Invalid(format!(
            "{} holds no answer served to any listed account",
            source.name()
        )));
    }
    progress.start(sample.len() as u64, ANSWERS);
    let read = read_by_account(t.tokenizer, t.model, &sample, h, &mut || progress.inc(1))?;
    progress.finish();
    let settings = TestSettings {
        suspect: t.suspect,
        mode: Mode::Open,
        supervised: None,
        prompt_exclusion: false,
        alpha: t.alpha,
        controls: t.controls,
    };
    progress.start(t.controls.keys as u64, RANDOM_KEYS);
    let investigation = investigate(t.key, &read.global, &settings, &|| progress.inc(1));
    progress.finish();
    let wm = Watermark::new(t.key);
    let mut readings = Vec::new();
    for (account, reading) in t.accounts.iter().zip(&read.accounts) {
        if reading.answers > 0 {
            readings.push(AccountTable {
                account: account.clone(),
                answers_read: reading.answers,
                table: ColourTable::tally(&wm, &reading.tuples)?,
            });
        }
    }
    let attribution = attribute_readings(
        &wm,
        &readings,
        t.accounts,
        t.suspected,
        t.alpha,
        assumed_colour_rate(layer),
    )?;
    let phantoms: Vec<String> = (0..PHANTOMS).map(|i| format!("phantom-{i:05}")).collect();
    let summary = ReadingSummary {
        per_account: t.per_account,
        accounts_read: readings.len(),
        answers_served: sample.served.iter().sum(),
        answers_read: read.accounts.iter().map(|r| r.answers).sum(),
        tokens_read: read.accounts.iter().map(|r| r.tokens).sum(),
        unlisted_answers: sample.unlisted,
    };
    let traced = Traced {
        investigation,
        attribution,
        phantom_log10_p: phantom_readings(&wm, &readings, &phantoms)?,
    };
    Ok((traced, summary))
}
