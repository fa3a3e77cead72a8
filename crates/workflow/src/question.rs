//! Questioning a suspect, the investigator's side: ask a model held-out prompts, several
//! independent answers each, and keep the answers for the closed test.

use std::path::Path;

use serde::Serialize;
use tracemark_embed::{Embedder, SamplingParams};

use crate::chat::Chat;
use crate::{Progress, WorkflowError};

/// How the investigator questions a model.
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

/// One answer of a questioned model, as the closed test reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Questioned {
    /// `q{prompt}-{repeat}`.
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The answer.
    pub response: String,
}

/// Asks `chat` every prompt `repeats` times (temperature 0.8, top-p 0.95, no watermark) and
/// writes the answers to `path` as JSONL, atomically; `progress` ticks once per answer.
pub fn question(
    chat: &mut Chat,
    q: &Questioning<'_>,
    path: &Path,
    progress: &dyn Progress,
) -> Result<(), WorkflowError> {
    let mut answers = Vec::with_capacity(q.repeats * q.prompts.len());
    for r in 0..q.repeats {
        for (i, prompt) in q.prompts.iter().enumerate() {
            let seed = q.seed.wrapping_add((r * 1_000 + i) as u64);
            let mut embedder = Embedder::new(None, SamplingParams::new(0.8, 0, 0.95, seed)?);
            let answer = chat.answer(&mut embedder, prompt, q.max_tokens, |_| {})?;
            answers.push(Questioned {
                id: format!("q{i}-{r}"),
                prompt: prompt.clone(),
                response: answer.text,
            });
            progress.inc(1);
        }
    }
    Ok(tracemark_io::write_jsonl(path, &answers, true)?)
}
