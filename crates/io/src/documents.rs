//! Input documents: plain text, or JSONL with one record per line.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::IoError;

/// Default cap on one input, to fail clearly instead of exhausting memory.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// The UTF-8 byte-order mark some editors write at the start of a file.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl Source {
    /// `-` is standard input, anything else a path.
    pub fn parse(arg: &str) -> Self {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(arg))
        }
    }

    /// The size in bytes of a file source (`None` for standard input or an unreadable file),
    /// for progress bars.
    pub fn size(&self) -> Option<u64> {
        match self {
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Source::Stdin => None,
        }
    }

    /// The name used in messages and output.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".into(),
        }
    }
}

/// How to read an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// JSONL if the name ends in `.jsonl`/`.ndjson` or the first line is a JSON object; else text.
    #[default]
    Auto,
    /// The whole input is one document.
    Text,
    /// One JSON object per line with a `text` or `response` string (and optionally `prompt`, `id`).
    Jsonl,
}

/// One document to examine.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Input name.
    pub source: String,
    /// JSONL line number (1-based); `None` for plain text.
    pub line: Option<usize>,
    /// The record's `id` field, if any.
    pub id: Option<String>,
    /// The text to examine.
    pub text: String,
    /// The prompt that produced the text, if the record has one.
    pub prompt: Option<String>,
}

/// Reads a whole input as UTF-8 text, rejecting empty, binary and oversized inputs.
pub fn read_text(source: &Source, max_bytes: u64) -> Result<String, IoError> {
    let name = source.name();
    let read_err = |e: std::io::Error| IoError::Read {
        path: PathBuf::from(&name),
        source: e,
    };
    let mut bytes = Vec::new();
    match source {
        Source::File(p) => std::fs::File::open(p)
            .map_err(read_err)?
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes),
        Source::Stdin => std::io::stdin()
            .lock()
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes),
    }
    .map_err(read_err)?;
    let bad = |message: String| IoError::Input {
        input: name.clone(),
        message,
    };
    if bytes.len() as u64 > max_bytes {
        return Err(bad(format!(
            "input is larger than the limit of {max_bytes} bytes"
        )));
    }
    if bytes.contains(&0) {
        return Err(bad(
            "input is binary, not text (it contains NUL bytes)".into()
        ));
    }
    // A UTF-8 byte-order mark is an encoding marker, not text.
    let start = if bytes.starts_with(UTF8_BOM) { UTF8_BOM.len() } else { 0 };
    bytes.drain(..start);
    let text = String::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "input is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(bad("input is empty".into()));
    }
    Ok(text)
}

/// Reads the documents of one input.
pub fn read_documents(
    source: &Source,
    format: InputFormat,
    max_bytes: u64,
) -> Result<Vec<Document>, IoError> {
    let text = read_text(source, max_bytes)?;
    let jsonl = match format {
        InputFormat::Text => false,
        InputFormat::Jsonl => true,
        InputFormat::Auto => looks_like_jsonl(source, &text),
    };
    if !jsonl {
        return Ok(vec![Document {
            source: source.name(),
            line: None,
            id: None,
            text,
            prompt: None,
        }]);
    }
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        docs.push(parse_record(&source.name(), i + 1, line)?);
    }
    Ok(docs)
}

fn looks_like_jsonl(source: &Source, text: &str) -> bool {
    if let Source::File(p) = source
        && has_extension(p, &["jsonl", "ndjson"])
    {
        return true;
    }
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    first.trim_start().starts_with('{')
        && matches!(serde_json::from_str::<Value>(first), Ok(Value::Object(_)))
}

fn has_extension(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Parses one JSONL record.
pub fn parse_record(source: &str, line: usize, json: &str) -> Result<Document, IoError> {
    let bad = |message: String| IoError::Input {
        input: format!("{source}:{line}"),
        message,
    };
    let value: Value =
        serde_json::from_str(json).map_err(|e| bad(format!("malformed JSON ({e})")))?;
    let Value::Object(obj) = value else {
        return Err(bad("JSONL record is not a JSON object".into()));
    };
    let text = ["text", "response"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
        .ok_or_else(|| bad("JSONL record has no \"text\" or \"response\" string field".into()))?;
    let id = obj.get("id").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    Ok(Document {
        source: source.to_string(),
        line: Some(line),
        id,
        text: text.to_string(),
        prompt: obj
            .get("prompt")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &[u8], name: &str) -> (tempfile::TempDir, Source) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        (dir, Source::File(path))
    }

    #[test]
    fn jsonl_is_detected_and_parsed() {
        let (_d, src) = write(
            b"{\"id\": 7, \"prompt\": \"q\", \"response\": \"a b\"}\n\n{\"text\": \"c\"}\n",
            "x.txt",
        );
        let docs = read_documents(&src, InputFormat::Auto, 1 << 20).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            (
                docs[0].id.as_deref(),
                docs[0].prompt.as_deref(),
                docs[0].line
            ),
            (Some("7"), Some("q"), Some(1))
        );
        assert_eq!((docs[1].text.as_str(), docs[1].line), ("c", Some(3)));
    }

    #[test]
    fn plain_text_stays_whole() {
        let (_d, src) = write(b"{not json} but text\nmore", "a.txt");
        let docs = read_documents(&src, InputFormat::Auto, 1 << 20).unwrap();
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn bad_inputs_give_one_line_errors() {
        let cases: [(&[u8], &str, &str); 6] = [
            (b"", "a.txt", "empty"),
            (b"  \n", "a.txt", "empty"),
            (b"ab\0cd", "a.txt", "binary"),
            (b"\xff\xfe", "a.txt", "UTF-8"),
            (
                b"{\"text\": \"a\"}\n{\"other\": 1}\n",
                "a.jsonl",
                ":2: JSONL record has no",
            ),
            (
                b"{\"text\": \"a\"}\n{oops\n",
                "a.jsonl",
                ":2: malformed JSON",
            ),
        ];
        for (content, name, expect) in cases {
            let (_d, src) = write(content, name);
            let err = read_documents(&src, InputFormat::Auto, 1 << 20)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let (_d, src) = write(&[b'a'; 100], "big.txt");
        let err = read_documents(&src, InputFormat::Auto, 50)
            .unwrap_err()
            .to_string();
        assert!(err.contains("larger than the limit"), "{err}");
        let err =
            read_documents(&Source::parse("/no/such/file"), InputFormat::Auto, 50).unwrap_err();
        assert!(err.to_string().contains("/no/such/file"));
    }
}
