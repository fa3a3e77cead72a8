//! Teacher corpora: a model answers prompts, with or without the watermark, into a cache
//! named by everything that determines the answers, so that a re-run is fast and two runs
//! never share a file unless their answers would be the same.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tracemark_core::Key;
use tracemark_embed::{Record, SamplingParams};
use tracemark_io::read_complete_jsonl;

use crate::batch::{Batch, ServedTo, run_batch};
use crate::chat::Chat;
use crate::{Progress, WorkflowError};

/// What a teacher corpus is made of; its hash names the cache file.
#[derive(Debug, Clone)]
pub struct CorpusSpec<'a> {
    /// The key, or `None` for unwatermarked answers.
    pub key: Option<&'a Key>,
    /// The prompts, in order.
    pub prompts: &'a [String],
    /// Sampling settings; prompt `i` uses seed `seed + i`.
    pub params: SamplingParams,
    /// The account each prompt's answer is served to (a master key's account watermark);
    /// `None` for a plain watermark.
    pub accounts: Option<&'a [String]>,
    /// Longest answer.
    pub max_tokens: usize,
}

impl CorpusSpec<'_> {
    /// The cache file for this corpus under `dir`, named by a hash of everything that
    /// determines its content (model, key id and scheme, prompts, sampling, length).
    pub fn cache_path(&self, dir: &Path, model: &str) -> PathBuf {
        let mut h = Sha256::new();
        // v2: records store typed sampling settings and snake_case stop reasons.
        h.update(b"tracemark/demo-corpus/v2\n");
        h.update(model.as_bytes());
        match self.key {
            Some(k) => h.update(format!("\n{}\n{}\n", k.id(), k.config().describe())),
            None => h.update(b"\nnone\n"),
        }
        if let Some(accounts) = self.accounts {
            // Only corpora served to accounts hash these, so plain corpora keep their names.
            h.update(format!(
                "accounts {}\n",
                self.key.map_or(String::new(), Key::describe)
            ));
            for a in accounts {
                h.update(a.as_bytes());
                h.update(b"\n\x00");
            }
        }
        h.update(format!("{:?}\n{}\n", self.params, self.max_tokens));
        for p in self.prompts {
            h.update(p.as_bytes());
            h.update(b"\n\x00");
        }
        let name = hex::encode(&h.finalize()[..12]);
        let tag = match (self.key, self.accounts) {
            (Some(_), Some(_)) => "served",
            (Some(_), None) => "wm",
            (None, _) => "plain",
        };
        dir.join(format!("{tag}-{name}.jsonl"))
    }
}

/// What names a teacher model in cache keys: its SHA-256 and size, so that the same weights
/// under another file name or on another machine find the same corpora.
pub fn model_identity(path: &Path) -> Result<String, WorkflowError> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    Ok(format!(
        "sha256:{} {size} bytes",
        tracemark_io::models::sha256_file(path)?
    ))
}

/// Answers every prompt of `spec` with `chat` into the cache file `path` (resumable: a killed
/// run keeps what it wrote) unless it is already complete, and returns the records in prompt
/// order.
pub fn teacher_corpus(
    chat: &mut Chat,
    spec: &CorpusSpec<'_>,
    path: &Path,
    progress: &dyn Progress,
) -> Result<Vec<Record>, WorkflowError> {
    let batch = Batch {
        prompts: spec.prompts,
        out: path,
        key: spec.key,
        served_to: spec.accounts.map_or(ServedTo::Nobody, ServedTo::PerPrompt),
        params: spec.params,
        max_tokens: spec.max_tokens,
        force: false,
        check_model: false,
    };
    run_batch(chat, &batch, progress)?;
    read_records(path, spec.prompts)
}

/// The records of a complete corpus file, in prompt order.
pub fn read_records(path: &Path, prompts: &[String]) -> Result<Vec<Record>, WorkflowError> {
    let found: Vec<Record> = read_complete_jsonl(path, "tracemark generation record")?;
    let mut records: Vec<Option<Record>> = vec![None; prompts.len()];
    for r in found {
        if r.index < prompts.len() && r.prompt == prompts[r.index] {
            let index = r.index;
            records[index] = Some(r);
        }
    }
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| WorkflowError::Resume {
                path: path.to_path_buf(),
                message: format!("answer {i} missing; rerun with --fresh"),
            })
        })
        .collect()
}

/// Loads the teacher at `path` with `threads` CPU threads, with its chat template, and its
/// [`model_identity`] for cache keys.
pub fn teacher_chat(path: &Path, threads: usize) -> Result<(Chat, String), WorkflowError> {
    let options = crate::GgufOptions {
        threads,
        verbose: false,
    };
    let chat = crate::models::gguf_chat(Some(path), &options, None, &crate::Quiet)?;
    Ok((chat, model_identity(path)?))
}
