//! Batch generation into a JSONL file that a killed run can resume without losing a record.
//!
//! Each record is written as one line and flushed to disk before the next prompt starts. On
//! resume, prompts whose (index, prompt) pair is already in the output are skipped, and a
//! trailing partial line (a run killed mid-write) is cut off first.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// One generated answer, as stored in the output file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position of the prompt in the prompts file (0-based).
    pub index: usize,
    /// The user prompt.
    pub prompt: String,
    /// The answer.
    pub response: String,
    /// The answer's token ids.
    pub token_ids: Vec<u32>,
    /// `end_of_generation` or `max_tokens`.
    pub stop: String,
    /// The watermark key's id, or null for an unwatermarked answer.
    pub key_id: Option<String>,
    /// The scheme, e.g. `kgw(γ=0.25, δ=2) selfhash(h=3)`, or null.
    pub scheme: Option<String>,
    /// The model that wrote the answer.
    pub model: String,
    /// Sampling parameters.
    pub sampling: serde_json::Value,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads prompts: one per non-empty line, or JSONL objects with a `prompt` string.
pub fn read_prompts(path: &Path) -> Result<Vec<String>, RuntimeError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut prompts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if line.trim_start().starts_with('{') {
            let bad = |m: &str| RuntimeError::Prompts(format!("{}:{}: {m}", path.display(), i + 1));
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| bad(&format!("malformed JSON ({e})")))?;
            let p = v
                .get("prompt")
                .and_then(|p| p.as_str())
                .ok_or_else(|| bad("JSONL record has no \"prompt\" string field"))?;
            prompts.push(p.to_string());
        } else {
            prompts.push(line.to_string());
        }
    }
    if prompts.is_empty() {
        return Err(RuntimeError::Prompts(format!(
            "{}: no prompts",
            path.display()
        )));
    }
    Ok(prompts)
}

/// An output file opened for appending, with the (index, prompt) pairs it already holds.
pub struct BatchOutput {
    file: std::fs::File,
    done: HashSet<(usize, String)>,
}

impl BatchOutput {
    /// Opens (or creates) `path`, cutting a partial last line left by a killed run.
    pub fn open(path: &Path) -> Result<Self, RuntimeError> {
        let err = io_err(path);
        let mut done = HashSet::new();
        if path.exists() {
            let bytes = std::fs::read(path).map_err(&err)?;
            let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            for (n, line) in bytes[..complete].lines().enumerate() {
                let line = line.map_err(&err)?;
                if line.trim().is_empty() {
                    continue;
                }
                let r: Record = serde_json::from_str(&line).map_err(|e| {
                    RuntimeError::Prompts(format!(
                        "{}:{}: not a tracemark generation record ({e})",
                        path.display(),
                        n + 1
                    ))
                })?;
                done.insert((r.index, r.prompt));
            }
            if complete < bytes.len() {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(&err)?;
                f.set_len(complete as u64).map_err(&err)?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(&err)?;
        Ok(Self { file, done })
    }

    /// Whether prompt `index` is already answered.
    pub fn is_done(&self, index: usize, prompt: &str) -> bool {
        self.done.contains(&(index, prompt.to_string()))
    }

    /// Appends one record as a single line and syncs it to disk.
    pub fn append(&mut self, record: &Record, path: &Path) -> Result<(), RuntimeError> {
        let mut line = serde_json::to_string(record).expect("records serialize");
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(io_err(path))?;
        self.file.sync_data().map_err(io_err(path))?;
        self.done.insert((record.index, record.prompt.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: usize) -> Record {
        Record {
            index,
            prompt: format!("p{index}"),
            response: "r".into(),
            token_ids: vec![1, 2],
            stop: "max_tokens".into(),
            key_id: None,
            scheme: None,
            model: "m".into(),
            sampling: serde_json::json!({}),
        }
    }

    #[test]
    fn resume_skips_done_prompts_and_cuts_a_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut out = BatchOutput::open(&path).unwrap();
        out.append(&record(0), &path).unwrap();
        out.append(&record(1), &path).unwrap();
        drop(out);
        // A run killed in the middle of writing record 2.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"index\": 2, \"prom").unwrap();
        drop(f);
        let out = BatchOutput::open(&path).unwrap();
        assert!(out.is_done(0, "p0") && out.is_done(1, "p1") && !out.is_done(2, "p2"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn prompts_from_text_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.txt");
        std::fs::write(&path, "first\n\n{\"prompt\": \"second\"}\n").unwrap();
        assert_eq!(read_prompts(&path).unwrap(), ["first", "second"]);
        std::fs::write(&path, "{\"text\": 1}\n").unwrap();
        let e = read_prompts(&path).unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("prompt"), "{e}");
    }
}
