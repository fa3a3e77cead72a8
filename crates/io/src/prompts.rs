//! Prompt files: one prompt per line, or JSONL records with a `prompt` (or `text`) string and
//! an optional `id`.
//!
//! The same reader serves batch generation (the prompts to answer) and the closed
//! radioactivity test (the prompts that produced a suspect's answers, matched by id or order).

use std::collections::HashMap;

use serde_json::Value;

use crate::IoError;
use crate::documents::{Source, id_string, read_text};

/// Prompt files larger than this are refused (a prompt file is not a corpus).
pub const MAX_PROMPTS_BYTES: u64 = 256 * 1024 * 1024;

/// The prompts of one file, in order, with their ids where the records have them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompts {
    texts: Vec<String>,
    ids: Vec<Option<String>>,
    by_id: HashMap<String, usize>,
}

impl Prompts {
    /// Reads a prompts file. A line that starts with `{` is a JSON record, any other
    /// non-empty line is one prompt; a UTF-8 byte-order mark is skipped. Errors name the file
    /// and line; a file without prompts is an error.
    pub fn read(source: &Source) -> Result<Self, IoError> {
        let text = read_text(source, MAX_PROMPTS_BYTES)?;
        let mut prompts = Self::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            if !line.trim_start().starts_with('{') {
                prompts.push(None, line.to_string());
                continue;
            }
            let bad = |message: String| IoError::Input {
                input: format!("{}:{}", source.name(), i + 1),
                message,
            };
            let value: Value =
                serde_json::from_str(line).map_err(|e| bad(format!("malformed JSON ({e})")))?;
            let prompt = ["prompt", "text"]
                .iter()
                .find_map(|k| value.get(*k).and_then(Value::as_str))
                .ok_or_else(|| bad("record has no \"prompt\" string field".into()))?;
            prompts.push(value.get("id").and_then(id_string), prompt.to_string());
        }
        if prompts.is_empty() {
            return Err(IoError::Input {
                input: source.name(),
                message: "no prompts".into(),
            });
        }
        Ok(prompts)
    }

    /// Prompts from texts, without ids.
    pub fn from_texts(texts: impl IntoIterator<Item = String>) -> Self {
        let mut prompts = Self::default();
        for t in texts {
            prompts.push(None, t);
        }
        prompts
    }

    fn push(&mut self, id: Option<String>, text: String) {
        if let Some(id) = &id {
            self.by_id.insert(id.clone(), self.texts.len());
        }
        self.ids.push(id);
        self.texts.push(text);
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The prompts in file order.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The id of prompt `index`, if its record has one.
    pub fn id(&self, index: usize) -> Option<&str> {
        self.ids.get(index)?.as_deref()
    }

    /// The prompt of answer number `index` (0-based) whose record has id `id`: by id when the
    /// prompts have ids, else by position.
    pub fn lookup(&self, index: usize, id: Option<&str>) -> Option<&str> {
        let at = match id {
            Some(id) if !self.by_id.is_empty() => *self.by_id.get(id)?,
            _ => index,
        };
        self.texts.get(at).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &str) -> Result<Prompts, IoError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        std::fs::write(&path, content).unwrap();
        Prompts::read(&Source::File(path))
    }

    #[test]
    fn lines_and_records_with_ids() {
        let p = read("first\r\n\n{\"prompt\": \"second\", \"id\": 7}\n{\"text\": \"third\"}\n")
            .unwrap();
        assert_eq!(p.texts(), ["first", "second", "third"]);
        assert_eq!((p.id(0), p.id(1)), (None, Some("7")));
        assert_eq!(p.lookup(0, Some("7")), Some("second"));
        assert_eq!(p.lookup(2, None), Some("third"));
        assert_eq!(p.lookup(0, Some("missing")), None);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_prompt() {
        let p = read("\u{feff}{\"prompt\": \"a\"}\n").unwrap();
        assert_eq!(p.texts(), ["a"]);
        let p = read("\u{feff}plain\n").unwrap();
        assert_eq!(p.texts(), ["plain"]);
    }

    #[test]
    fn bad_files_name_the_line() {
        let e = read("{\"nope\": 1}\n").unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("prompt"), "{e}");
        let e = read("{oops\n").unwrap_err().to_string();
        assert!(e.contains("malformed JSON"), "{e}");
        let e = read("\n\n").unwrap_err().to_string();
        assert!(e.contains("empty") || e.contains("no prompts"), "{e}");
    }
}
