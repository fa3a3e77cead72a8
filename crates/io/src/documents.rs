//! Input documents: plain text, or JSONL with one record per line.

use std::io::Read;
use std::path::PathBuf;

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
    /// JSONL if the name ends in `.jsonl`/`.ndjson` or the first line is a JSON object; a JSON
    /// array of records; else text (see the `stream` module).
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
    /// The account the text was served to (the record's `account` field), if any.
    pub account: Option<String>,
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
    let start = if bytes.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
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

/// Parses one JSONL record.
pub fn parse_record(source: &str, line: usize, json: &str) -> Result<Document, IoError> {
    let value: Value = serde_json::from_str(json).map_err(|e| IoError::Input {
        input: format!("{source}:{line}"),
        message: format!("malformed JSON ({e})"),
    })?;
    record(source, line, value)
}

/// The document of one JSON record (`line` numbers it in messages): a `text` or `response`
/// string, and optional `prompt`, `id` and `account`.
pub fn record(source: &str, line: usize, value: Value) -> Result<Document, IoError> {
    let bad = |message: &str| IoError::Input {
        input: format!("{source}:{line}"),
        message: message.into(),
    };
    let Value::Object(mut obj) = value else {
        return Err(bad("JSONL record is not a JSON object"));
    };
    let text = ["text", "response"]
        .iter()
        .find_map(|k| match obj.remove(*k) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        })
        .ok_or_else(|| bad("JSONL record has no \"text\" or \"response\" string field"))?;
    Ok(Document {
        source: source.to_string(),
        line: Some(line),
        id: obj.get("id").and_then(id_string),
        text,
        prompt: match obj.remove("prompt") {
            Some(Value::String(p)) => Some(p),
            _ => None,
        },
        account: match obj.remove("account") {
            Some(Value::String(a)) => Some(a),
            _ => None,
        },
    })
}

/// A record id as text: strings as they are, numbers in decimal.
pub fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
