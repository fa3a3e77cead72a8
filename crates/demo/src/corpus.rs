//! Teacher corpora: the default model answers prompts, with or without the watermark,
//! cached by content so that a re-run is fast.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracemark_core::Key;
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_runtime::{
    BatchOutput, Chat, LanguageModel, LlamaModel, LoadOptions, Observer, Record, RuntimeError,
};

use crate::Progress;

/// What a teacher corpus is made of; its hash names the cache file.
#[derive(Debug, Clone)]
pub struct CorpusSpec<'a> {
    /// The key, or `None` for unwatermarked answers.
    pub key: Option<&'a Key>,
    /// The prompts, in order.
    pub prompts: &'a [String],
    /// Sampling settings; prompt `i` uses seed `seed + i`.
    pub params: SamplingParams,
    /// Longest answer.
    pub max_tokens: usize,
}

impl CorpusSpec<'_> {
    /// The cache file for this corpus under `dir`, named by a hash of everything that
    /// determines its content (model, key id and scheme, prompts, sampling, length).
    pub fn cache_path(&self, dir: &Path, model: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(b"tracemark/demo-corpus/v1\n");
        h.update(model.as_bytes());
        match self.key {
            Some(k) => h.update(format!("\n{}\n{}\n", k.id(), k.config().describe())),
            None => h.update(b"\nnone\n"),
        }
        h.update(format!("{:?}\n{}\n", self.params, self.max_tokens));
        for p in self.prompts {
            h.update(p.as_bytes());
            h.update(b"\n\x00");
        }
        let name = hex::encode(&h.finalize()[..12]);
        let tag = if self.key.is_some() { "wm" } else { "plain" };
        dir.join(format!("{tag}-{name}.jsonl"))
    }
}

/// What names a teacher model in cache keys: its SHA-256 and size, so that the same weights
/// under another file name or on another machine find the same corpora.
pub fn model_identity(path: &Path) -> Result<String, RuntimeError> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    Ok(format!(
        "sha256:{} {size} bytes",
        tracemark_runtime::sha256_file(path)?
    ))
}

/// Loads the teacher at `path` with `threads` CPU threads, with its chat template, and its
/// [`model_identity`] for cache keys.
pub fn teacher_chat(path: &Path, threads: usize) -> Result<(Chat, String), RuntimeError> {
    let model = LlamaModel::load(
        path,
        &LoadOptions {
            n_threads: threads,
            ..LoadOptions::default()
        },
    )?;
    let model_id = model_identity(path)?;
    Ok((Chat::new(model, None)?, model_id))
}

/// Answers every prompt of `spec` with `chat`, appending to the cache file (resumable: a
/// killed run keeps what it wrote) unless it is already complete, and returns the records in
/// prompt order.
pub fn teacher_corpus(
    chat: &mut Chat,
    spec: &CorpusSpec<'_>,
    path: &Path,
    progress: &dyn Progress,
) -> Result<Vec<Record>, RuntimeError> {
    let mut out = BatchOutput::open(path)?;
    let todo = (0..spec.prompts.len())
        .filter(|&i| !out.is_done(i, &spec.prompts[i]))
        .count();
    progress.start(todo as u64, "teacher answers");
    for (index, prompt) in spec.prompts.iter().enumerate() {
        if out.is_done(index, prompt) {
            continue;
        }
        let record = answer_record(chat, spec, index, prompt, None)?;
        out.append(&record, path)?;
        progress.inc(1);
    }
    progress.finish();
    read_records(path, spec.prompts)
}

/// Answers prompt `index` of `spec` (seed `spec.params.seed + index`) and returns its
/// record; `observe` sees each step's unmodified logits.
pub fn answer_record(
    chat: &mut Chat,
    spec: &CorpusSpec<'_>,
    index: usize,
    prompt: &str,
    observe: Option<Observer<'_>>,
) -> Result<Record, RuntimeError> {
    let params = spec
        .params
        .with_seed(spec.params.seed().wrapping_add(index as u64));
    let mut embedder = Embedder::new(spec.key, params);
    let answer = chat.answer_observed(&mut embedder, prompt, spec.max_tokens, |_| {}, observe)?;
    Ok(Record {
        index,
        prompt: prompt.to_string(),
        response: answer.text,
        token_ids: answer.generation.ids,
        stop: format!("{:?}", answer.generation.stop),
        key_id: spec.key.map(|k| k.id().to_string()),
        scheme: spec.key.map(|k| k.config().describe()),
        model: chat.model().describe(),
        sampling: serde_json::json!({ "params": format!("{:?}", spec.params), "max_tokens": spec.max_tokens }),
    })
}

/// The records of a complete cache file, in prompt order.
pub fn read_records(path: &Path, prompts: &[String]) -> Result<Vec<Record>, RuntimeError> {
    let text = std::fs::read_to_string(path).map_err(|e| RuntimeError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut records: Vec<Option<Record>> = vec![None; prompts.len()];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Record = serde_json::from_str(line).map_err(|e| {
            RuntimeError::Prompts(format!(
                "{}: corrupt cache record ({e}); rerun with --fresh",
                path.display()
            ))
        })?;
        if r.index < prompts.len() && r.prompt == prompts[r.index] {
            let index = r.index;
            records[index] = Some(r);
        }
    }
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| {
                RuntimeError::Prompts(format!(
                    "{}: answer {i} missing; rerun with --fresh",
                    path.display()
                ))
            })
        })
        .collect()
}
