//! The steps shared by the demo and the paper reproductions: distil a student from a mix of
//! watermarked and plain answers, question it, and run one radioactivity test on it.

use std::path::{Path, PathBuf};

use tracemark_core::{Key, Watermark};
use tracemark_detect::WindowSet;
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_io::suspect::{ClosedOptions, collect_answers, collect_reading, finish_samples};
use tracemark_io::{Source, TextTokenizer};
use tracemark_radioactivity::{
    ControlOptions, DEFAULT_ALPHA, Investigation, Mode, TestSettings, WindowCounts, investigate,
};
use tracemark_runtime::{Record, generate};
use tracemark_student::{KneserNey, StudentConfig, Trainer};

use crate::{DemoError, Progress};

/// Context matched by the supervised filter: the 3 tokens before each position must occur
/// in the watermarked training answers, which singles out text the student copied from them.
pub const SUPERVISED_CONTEXT: usize = 3;

/// Distils a 4-gram student from harvested exchanges (prompt and answer).
pub fn distil<'a>(
    tokenizer: &TextTokenizer,
    exchanges: impl IntoIterator<Item = &'a Record>,
) -> Result<KneserNey, DemoError> {
    let specials = tracemark_io::students::student_specials(tokenizer)?;
    let mut trainer = Trainer::new(StudentConfig::new(
        tokenizer.vocab_size(),
        StudentConfig::DEFAULT_ORDER,
        specials,
    )?);
    for r in exchanges {
        trainer.add_exchange(
            &tokenizer.encode_ids(&r.prompt)?,
            &tokenizer.encode_ids(&r.response)?,
        )?;
    }
    Ok(trainer.finish()?)
}

/// Exchange `i` from `marked` where `watermarked[i]`, else from `plain`.
pub fn mix<'a>(
    watermarked: &'a [bool],
    marked: &'a [Record],
    plain: &'a [Record],
) -> impl Iterator<Item = &'a Record> {
    watermarked
        .iter()
        .zip(marked.iter().zip(plain))
        .map(|(&wm, (m, p))| if wm { m } else { p })
}

/// How the investigator questions a student.
#[derive(Debug, Clone, Copy)]
pub struct Questioning<'a> {
    /// Held-out prompts.
    pub prompts: &'a [String],
    /// Independent answers per prompt.
    pub repeats: usize,
    /// Longest answer, in tokens.
    pub max_tokens: usize,
    /// Answer `r` to prompt `i` is sampled with seed `seed + r·1000 + i`.
    pub seed: u64,
}

/// Asks `student` every prompt `repeats` times and writes the answers (JSONL with `id`,
/// `prompt`, `response`) to `path`, atomically.
pub fn question(
    student: &mut KneserNey,
    tokenizer: &TextTokenizer,
    q: &Questioning<'_>,
    path: &Path,
    progress: &dyn Progress,
) -> Result<(), DemoError> {
    let mut lines = String::new();
    for r in 0..q.repeats {
        for (i, prompt) in q.prompts.iter().enumerate() {
            let ids = student.chat_prompt(&tokenizer.encode_ids(prompt)?);
            let seed = q.seed.wrapping_add((r * 1_000 + i) as u64);
            let mut embedder = Embedder::new(None, SamplingParams::new(0.8, 0, 0.95, seed)?);
            let g = generate(student, &mut embedder, &ids, q.max_tokens, |_| {})?;
            let text = tokenizer.decode(&g.ids);
            let record = serde_json::json!({ "id": format!("q{i}-{r}"), "prompt": prompt, "response": text });
            lines.push_str(&record.to_string());
            lines.push('\n');
            progress.inc(1);
        }
    }
    Ok(tracemark_io::atomic::write_atomic(
        path,
        lines.as_bytes(),
        false,
        true,
    )?)
}

/// The supervised filter: windows of [`SUPERVISED_CONTEXT`] tokens (at least the key's h) of
/// the given watermarked answers.
pub fn supervised_filter(
    tokenizer: &TextTokenizer,
    h: usize,
    answers: &[&Record],
) -> Result<WindowSet, DemoError> {
    let mut counts = WindowCounts::new(SUPERVISED_CONTEXT.max(h));
    for r in answers {
        counts.add(&tokenizer.encode_ids(&r.response)?);
    }
    Ok(counts.filter(None))
}

/// What one radioactivity test looks at.
#[derive(Debug, Clone, Copy)]
pub enum Probe<'a> {
    /// Closed model: the student's answers (a JSONL file), optionally with a supervised
    /// filter; windows of each answer's own prompt are excluded.
    Answers(&'a Path, Option<&'a WindowSet>),
    /// Open model: the student reads these watermarked texts (a JSONL file).
    Reading(&'a Path),
}

/// Runs one test of `student` under `key` with random-key controls; `progress` ticks once per
/// control key.
pub fn examine(
    key: &Key,
    tokenizer: &TextTokenizer,
    student: &mut KneserNey,
    probe: Probe<'_>,
    suspect: String,
    controls: ControlOptions,
    progress: &dyn Progress,
) -> Result<Investigation, DemoError> {
    let h = key.config().seeding.lookback();
    let (collected, mode, supervised) = match probe {
        Probe::Answers(path, filter) => (
            collect_answers(
                tokenizer,
                &Source::File(path.to_path_buf()),
                &ClosedOptions {
                    h,
                    prompts: None,
                    exclude_prompts: true,
                    filter,
                    samples: 2,
                },
                &mut |_| {},
            )?,
            Mode::Closed,
            filter.is_some(),
        ),
        Probe::Reading(path) => (
            collect_reading(
                tokenizer,
                student,
                &Source::File(path.to_path_buf()),
                h,
                None,
                2,
                &mut |_| {},
            )?,
            Mode::Open,
            false,
        ),
    };
    let settings = TestSettings {
        suspect,
        mode,
        supervised: supervised.then_some(None),
        prompt_exclusion: mode == Mode::Closed,
        alpha: DEFAULT_ALPHA,
        controls,
    };
    let mut inv = investigate(key, &collected.tuples, &settings, &|| progress.inc(1));
    inv.samples = finish_samples(
        collected.samples,
        &collected.tuples,
        &Watermark::new(key),
        tokenizer,
    );
    Ok(inv)
}

/// A seeded permutation of 0..n (Fisher–Yates on splitmix64).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut x = seed ^ 0x5eed_5eed_5eed_5eed;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    v
}

/// Writes records as JSONL, atomically.
pub fn write_records<'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<PathBuf, DemoError> {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).expect("records serialize"));
        text.push('\n');
    }
    tracemark_io::atomic::write_atomic(path, text.as_bytes(), false, true)?;
    Ok(path.to_path_buf())
}
