//! Streaming input: JSONL corpora read one record at a time, so a corpus of millions of
//! answers never has to fit in memory.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use crate::IoError;
use crate::documents::{Document, InputFormat, Source, parse_record, read_documents};

/// Longest JSONL line accepted (one record).
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Calls `each` with every document of `source`, in order, with the bytes read so far.
///
/// JSONL (by extension, or when the first line is a JSON object) is streamed line by line;
/// plain text is one document, read whole with the usual size limit. Errors are one line
/// and name the input and line: unreadable file, not UTF-8, NUL bytes, malformed JSON, no
/// `text`/`response` field, an over-long line, or no documents at all. Returns the number
/// of documents.
pub fn for_each_document<E: From<IoError>>(
    source: &Source,
    format: InputFormat,
    mut each: impl FnMut(Document, u64) -> Result<(), E>,
) -> Result<u64, E> {
    let name = source.name();
    let read_err = |e: std::io::Error| IoError::Read {
        path: PathBuf::from(&name),
        source: e,
    };
    let reader: Box<dyn Read> = match source {
        Source::File(p) => Box::new(std::fs::File::open(p).map_err(read_err)?),
        Source::Stdin => Box::new(std::io::stdin().lock()),
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let jsonl = match format {
        InputFormat::Jsonl => true,
        InputFormat::Text => false,
        InputFormat::Auto => sniff_jsonl(source, &mut reader).map_err(read_err)?,
    };
    if !jsonl {
        drop(reader);
        let docs = read_documents(source, InputFormat::Text, crate::DEFAULT_MAX_INPUT_BYTES)?;
        let n = docs.len() as u64;
        for doc in docs {
            let bytes = doc.text.len() as u64;
            each(doc, bytes)?;
        }
        return Ok(n);
    }
    let bad = |line: usize, message: String| IoError::Input {
        input: format!("{name}:{line}"),
        message,
    };
    let (mut buf, mut line, mut bytes, mut docs) = (Vec::new(), 0usize, 0u64, 0u64);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(read_err)?;
        if n == 0 {
            break;
        }
        line += 1;
        bytes += n as u64;
        if n > MAX_LINE_BYTES {
            return Err(bad(line, format!("line is longer than {MAX_LINE_BYTES} bytes")).into());
        }
        if buf.contains(&0) {
            return Err(bad(
                line,
                "input is binary, not text (it contains NUL bytes)".into(),
            )
            .into());
        }
        let text = std::str::from_utf8(&buf).map_err(|e| {
            bad(
                line,
                format!(
                    "not UTF-8 text (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        each(parse_record(&name, line, text.trim_end())?, bytes)?;
        docs += 1;
    }
    if docs == 0 {
        return Err(IoError::Input {
            input: name,
            message: "input is empty".into(),
        }
        .into());
    }
    Ok(docs)
}

/// Whether the input is JSONL: by extension, or by its first non-empty line being a JSON
/// object. Peeks without consuming.
fn sniff_jsonl(source: &Source, reader: &mut BufReader<Box<dyn Read>>) -> std::io::Result<bool> {
    if let Source::File(p) = source
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
    {
        return Ok(true);
    }
    let head = reader.fill_buf()?;
    let head = String::from_utf8_lossy(&head[..head.len().min(1 << 16)]);
    let first = head.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Ok(first.trim_start().starts_with('{')
        && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(content: &[u8], name: &str) -> Result<Vec<Document>, IoError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let mut docs = Vec::new();
        for_each_document::<IoError>(&Source::File(path), InputFormat::Auto, |d, _| {
            docs.push(d);
            Ok(())
        })?;
        Ok(docs)
    }

    #[test]
    fn streams_jsonl_and_reads_text_whole() {
        let docs = collect(
            b"{\"prompt\": \"q\", \"response\": \"a\"}\n\n{\"text\": \"b\"}",
            "x.txt",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            (docs[0].prompt.as_deref(), docs[1].line),
            (Some("q"), Some(3))
        );
        let docs = collect(b"plain text\nsecond line\n", "x.txt").unwrap();
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn bad_lines_name_the_line() {
        for (content, expect) in [
            (
                &b"{\"text\": \"a\"}\n{oops\n"[..],
                "x.jsonl:2: malformed JSON",
            ),
            (
                b"{\"text\": \"a\"}\n{\"text\": \"\xff\"}\n",
                "x.jsonl:2: not UTF-8",
            ),
            (b"\n\n", "input is empty"),
        ] {
            let err = collect(content, "x.jsonl").unwrap_err().to_string();
            assert!(err.contains(expect), "{err}");
        }
    }
}
