//! Investigating a suspect: collect the tuples of one radioactivity test (closed: the
//! suspect's answers; open: the suspect's weights reading watermarked text), score them under
//! the key and random keys, decide, and colour a few samples for the report.

use std::path::Path;

use tracemark_core::{Key, Watermark};
use tracemark_detect::WindowSet;
use tracemark_io::{Prompts, Source, TextTokenizer};
use tracemark_model::LanguageModel;
use tracemark_radioactivity::collect::{
    ClosedOptions, collect_answers, collect_reading, finish_samples,
};
use tracemark_radioactivity::{
    ControlOptions, Investigation, Mode, TestSettings, TupleSet, WindowCounts, investigate,
};

use crate::{Progress, WorkflowError};

/// Context matched by the demo's supervised filter: the 3 tokens before each position must
/// occur in the watermarked training answers, which singles out text the student copied.
pub const SUPERVISED_CONTEXT: usize = 3;

/// What one radioactivity test looks at.
pub enum Probe<'a> {
    /// Closed model: the suspect's answers (JSONL); windows of each answer's own prompt (its
    /// `prompt` field, else from `prompts` by id or order) are excluded when
    /// `exclude_prompts`.
    Answers {
        /// The answers file.
        path: &'a Path,
        /// Prompts for answers whose records lack them.
        prompts: Option<&'a Prompts>,
        /// Exclude prompt windows (the valid default).
        exclude_prompts: bool,
    },
    /// Open model: the suspect's weights read these watermarked texts (JSONL or text).
    Reading {
        /// The suspect.
        model: &'a mut dyn LanguageModel,
        /// The watermarked texts.
        texts: &'a Path,
    },
}

/// One test of one suspect.
pub struct Examination<'a> {
    /// The provider's key.
    pub key: &'a Key,
    /// The tokenizer the watermark used.
    pub tokenizer: &'a TextTokenizer,
    /// What is tested.
    pub probe: Probe<'a>,
    /// Supervised: only tuples whose context is in this set count (with the top-N it kept,
    /// for the report).
    pub filter: Option<(&'a WindowSet, Option<usize>)>,
    /// The suspect's name in the report.
    pub suspect: String,
    /// Significance level.
    pub alpha: f64,
    /// Random-key controls.
    pub controls: ControlOptions,
    /// Documents kept, coloured, as report samples.
    pub samples: usize,
}

/// Units of the two counted tasks of [`examine`].
pub const BYTES: &str = "bytes";
/// See [`BYTES`].
pub const RANDOM_KEYS: &str = "random keys";

/// Runs one test with random-key controls; `progress` counts the input's [`BYTES`] as they
/// are read, then the [`RANDOM_KEYS`] as they finish.
pub fn examine(
    e: Examination<'_>,
    progress: &dyn Progress,
) -> Result<Investigation, WorkflowError> {
    examine_tuples(e, progress).map(|(inv, _)| inv)
}

/// [`examine`], also handing back the collected tuples for further tests on them
/// (account attribution).
pub fn examine_tuples(
    e: Examination<'_>,
    progress: &dyn Progress,
) -> Result<(Investigation, TupleSet), WorkflowError> {
    let h = e.key.config().seeding.lookback();
    let filter = e.filter.map(|(set, _)| set);
    let (path, mode) = match &e.probe {
        Probe::Answers { path, .. } => (*path, Mode::Closed),
        Probe::Reading { texts, .. } => (*texts, Mode::Open),
    };
    progress.start(std::fs::metadata(path).map_or(0, |m| m.len()), BYTES);
    let mut last = 0;
    let read = &mut |bytes: u64| {
        progress.inc(bytes.saturating_sub(last));
        last = bytes;
    };
    let source = Source::File(path.to_path_buf());
    let (collected, prompt_exclusion) = match e.probe {
        Probe::Answers {
            prompts,
            exclude_prompts,
            ..
        } => {
            let options = ClosedOptions {
                h,
                prompts,
                exclude_prompts,
                filter,
                samples: e.samples,
            };
            let collected = collect_answers(e.tokenizer, &source, &options, read)?;
            (collected, exclude_prompts)
        }
        Probe::Reading { model, .. } => {
            let collected =
                collect_reading(e.tokenizer, model, &source, h, filter, e.samples, read)?;
            (collected, false)
        }
    };
    progress.finish();
    let settings = TestSettings {
        suspect: e.suspect,
        mode,
        supervised: e.filter.map(|(_, top)| top),
        prompt_exclusion,
        alpha: e.alpha,
        controls: e.controls,
    };
    progress.start(e.controls.keys as u64, RANDOM_KEYS);
    let mut inv = investigate(e.key, &collected.tuples, &settings, &|| progress.inc(1));
    progress.finish();
    inv.samples = finish_samples(
        collected.samples,
        &collected.tuples,
        &Watermark::new(e.key),
        e.tokenizer,
    );
    Ok((inv, collected.tuples))
}

/// The supervised filter from texts in memory: every window of `context` tokens (at least
/// the key's h) of the watermarked `texts`.
pub fn filter_from_texts<'a>(
    tokenizer: &TextTokenizer,
    context: usize,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<WindowSet, WorkflowError> {
    let mut counts = WindowCounts::new(context);
    for text in texts {
        counts.add(&tokenizer.encode_ids(text)?);
    }
    Ok(counts.filter(None))
}
