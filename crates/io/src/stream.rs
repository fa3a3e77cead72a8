//! Streaming input: documents read one at a time, so that an input of any size is processed
//! in bounded memory.
//!
//! - JSONL (one JSON object per line) is read line by line; a JSON array of records element
//!   by element.
//! - Plain text is one document, delivered whole ([`for_each_document`]) or in pieces that
//!   end where the tokenizer can split it exactly ([`for_each_piece`]).
//! - A UTF-8 byte-order mark is skipped. Pretty-printed JSON (an object over several lines) is
//!   refused with a hint rather than scored as plain text.

use std::cell::Cell;
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde_json::Value;

use crate::documents::{DEFAULT_MAX_INPUT_BYTES, Document, InputFormat, Source, UTF8_BOM};
use crate::{IoError, TextTokenizer};

/// Longest JSONL line accepted (one record).
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of plain text per piece in [`for_each_piece`] (a piece ends at the next exact split
/// point after this many bytes).
pub const PIECE_BYTES: usize = 1 << 20;

/// How to read an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// The format, or [`InputFormat::Auto`] to tell from the name and the first line.
    pub format: InputFormat,
    /// Largest accepted input in bytes (a limit against mistakes, not against memory: the
    /// input is streamed).
    pub max_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            format: InputFormat::Auto,
            max_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// Where a piece sits in its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The document's first piece.
    pub first: bool,
    /// The document's last piece.
    pub last: bool,
}

impl Part {
    /// A document in one piece.
    pub const WHOLE: Part = Part {
        first: true,
        last: true,
    };
}

/// Calls `each` with every document of `source`, in order, with the bytes read so far;
/// plain text is one document, read whole. Errors are one line and name the input and line:
/// unreadable file, not UTF-8, NUL bytes, malformed JSON, no `text`/`response` field, an
/// over-long line or input, pretty-printed JSON, or no documents at all. Returns the number
/// of documents.
pub fn for_each_document<E: From<IoError>>(
    source: &Source,
    format: InputFormat,
    mut each: impl FnMut(Document, u64) -> Result<(), E>,
) -> Result<u64, E> {
    let options = ReadOptions {
        format,
        ..ReadOptions::default()
    };
    for_each_piece(source, &options, None, |doc, _, bytes| each(doc, bytes))
}

/// [`for_each_document`], with plain text in pieces of about [`PIECE_BYTES`] that end at
/// `tokenizer`'s exact split points (whole when `tokenizer` is `None`). Each call gets the
/// document (its `text` being the piece), where the piece sits in it, and the bytes read so
/// far.
pub fn for_each_piece<E: From<IoError>>(
    source: &Source,
    options: &ReadOptions,
    tokenizer: Option<&TextTokenizer>,
    mut each: impl FnMut(Document, Part, u64) -> Result<(), E>,
) -> Result<u64, E> {
    let name = source.name();
    let mut reader = open(source)?;
    skip_bom(&mut reader, &name)?;
    let kind = match options.format {
        InputFormat::Jsonl => Kind::Jsonl,
        InputFormat::Text => Kind::Text,
        InputFormat::Auto => sniff(source, &mut reader, options.max_bytes)?,
    };
    let docs = match kind {
        Kind::Jsonl => jsonl(&name, reader, options.max_bytes, &mut each)?,
        Kind::Array => array(&name, Limited::new(reader, options.max_bytes), &mut each)?,
        Kind::Text => text(
            source,
            Limited::new(reader, options.max_bytes),
            tokenizer,
            &mut each,
        )?,
    };
    if docs == 0 {
        return Err(bad(&name, "input is empty").into());
    }
    Ok(docs)
}

/// What an input holds.
enum Kind {
    Jsonl,
    Array,
    Text,
}

type Reader = BufReader<Box<dyn Read>>;

fn open(source: &Source) -> Result<Reader, IoError> {
    let reader: Box<dyn Read> = match source {
        Source::File(p) => Box::new(std::fs::File::open(p).map_err(|e| read_error(p, e))?),
        Source::Stdin => Box::new(std::io::stdin().lock()),
    };
    Ok(BufReader::with_capacity(1 << 20, reader))
}

fn read_error(path: &Path, source: std::io::Error) -> IoError {
    IoError::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(input: &str, message: &str) -> IoError {
    IoError::Input {
        input: input.to_string(),
        message: message.to_string(),
    }
}

/// An error of reading `name`: the limits' and UTF-8 checks' messages as they are, anything
/// else as a read error.
fn stream_error(name: &str, e: std::io::Error) -> IoError {
    if e.kind() == std::io::ErrorKind::InvalidData {
        bad(name, &e.to_string())
    } else {
        read_error(&PathBuf::from(name), e)
    }
}

fn skip_bom(reader: &mut Reader, name: &str) -> Result<(), IoError> {
    let head = reader.fill_buf().map_err(|e| stream_error(name, e))?;
    if head.starts_with(UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    Ok(())
}

/// Tells JSONL, a JSON array and plain text apart: by extension, then by the first line. An
/// input that starts like JSON but whose first line is not a whole object is read to the
/// end to see whether it is JSON (a file is read twice, standard input is kept in memory).
fn sniff(source: &Source, reader: &mut Reader, max_bytes: u64) -> Result<Kind, IoError> {
    let name = source.name();
    if let Source::File(p) = source
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
    {
        return Ok(Kind::Jsonl);
    }
    let head = reader.fill_buf().map_err(|e| stream_error(&name, e))?;
    let head = String::from_utf8_lossy(&head[..head.len().min(1 << 16)]).into_owned();
    let start = head.trim_start();
    let first_line = start.lines().next().unwrap_or("");
    if start.starts_with('{')
        && serde_json::from_str::<serde_json::Map<String, Value>>(first_line).is_ok()
    {
        return Ok(Kind::Jsonl);
    }
    if !(start.starts_with('{') || start.starts_with('[')) {
        return Ok(Kind::Text);
    }
    let is_json = match source {
        Source::File(_) => {
            let mut again = open(source)?;
            skip_bom(&mut again, &name)?;
            serde_json::from_reader::<_, IgnoredAny>(Limited::new(again, max_bytes)).is_ok()
        }
        Source::Stdin => {
            let mut all = Vec::new();
            Limited::new(&mut *reader, max_bytes)
                .read_to_end(&mut all)
                .map_err(|e| stream_error(&name, e))?;
            let is_json = serde_json::from_slice::<IgnoredAny>(&all).is_ok();
            let kept: Box<dyn Read> = Box::new(Cursor::new(all));
            *reader = BufReader::new(kept);
            is_json
        }
    };
    match (is_json, start.starts_with('[')) {
        (true, true) => Ok(Kind::Array),
        (true, false) => Err(bad(
            &name,
            "looks like pretty-printed JSON: give one JSON object per line (JSONL, e.g. \
             `jq -c . FILE`) or a JSON array of records, or use --format text to score it as \
             plain text",
        )),
        (false, _) => Ok(Kind::Text),
    }
}

fn jsonl<E: From<IoError>>(
    name: &str,
    mut reader: Reader,
    max_bytes: u64,
    each: &mut impl FnMut(Document, Part, u64) -> Result<(), E>,
) -> Result<u64, E> {
    let bad_line = |line: usize, message: String| IoError::Input {
        input: format!("{name}:{line}"),
        message,
    };
    let (mut buf, mut line, mut docs, mut read) = (Vec::new(), 0usize, 0u64, 0u64);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| stream_error(name, e))?;
        if n == 0 {
            break;
        }
        line += 1;
        read += n as u64;
        if read > max_bytes {
            let message = format!("input is larger than the limit of {max_bytes} bytes");
            return Err(bad(name, &message).into());
        }
        if n > MAX_LINE_BYTES {
            let message = format!("line is longer than {MAX_LINE_BYTES} bytes");
            return Err(bad_line(line, message).into());
        }
        if buf.contains(&0) {
            let message = "input is binary, not text (it contains NUL bytes)".into();
            return Err(bad_line(line, message).into());
        }
        let text = std::str::from_utf8(&buf).map_err(|e| {
            let message = format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            );
            bad_line(line, message)
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let doc = crate::documents::parse_record(name, line, text.trim_end())?;
        each(doc, Part::WHOLE, read)?;
        docs += 1;
    }
    Ok(docs)
}

/// A JSON array, element by element: records like JSONL's, or plain strings.
fn array<E: From<IoError>>(
    name: &str,
    reader: Limited<Reader>,
    each: &mut impl FnMut(Document, Part, u64) -> Result<(), E>,
) -> Result<u64, E> {
    struct Elements<'a, F> {
        name: &'a str,
        each: &'a mut F,
        failed: &'a RefCell<Option<Result<(), IoError>>>,
        docs: u64,
    }
    impl<'de, F: FnMut(Document) -> Result<(), IoError>> Visitor<'de> for &mut Elements<'_, F> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON array of records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(value) = seq.next_element::<Value>()? {
                let index = self.docs as usize;
                let doc = match value {
                    Value::String(text) => Ok(Document {
                        source: self.name.to_string(),
                        line: Some(index + 1),
                        id: None,
                        text,
                        prompt: None,
                        account: None,
                    }),
                    other => crate::documents::record(self.name, index + 1, other),
                };
                if let Err(e) = doc.and_then(|d| (self.each)(d)) {
                    *self.failed.borrow_mut() = Some(Err(e));
                    return Err(serde::de::Error::custom("stopped"));
                }
                self.docs += 1;
            }
            Ok(())
        }
    }
    impl<'de, F: FnMut(Document) -> Result<(), IoError>> DeserializeSeed<'de> for &mut Elements<'_, F> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    // The caller's error is kept aside and handed back after serde unwinds.
    let caller: RefCell<Option<E>> = RefCell::new(None);
    let failed = RefCell::new(None);
    let counter = reader.counter();
    let mut forward = |doc: Document| -> Result<(), IoError> {
        match each(doc, Part::WHOLE, counter.get()) {
            Ok(()) => Ok(()),
            Err(e) => {
                *caller.borrow_mut() = Some(e);
                Err(bad(name, "stopped"))
            }
        }
    };
    let mut elements = Elements {
        name,
        each: &mut forward,
        failed: &failed,
        docs: 0,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = (&mut elements).deserialize(&mut de).and_then(|()| de.end());
    let docs = elements.docs;
    if let Some(e) = caller.into_inner() {
        return Err(e);
    }
    if let Some(Err(e)) = failed.into_inner() {
        return Err(e.into());
    }
    result.map_err(|e| bad(name, &format!("malformed JSON array ({e})")))?;
    Ok(docs)
}

fn text<E: From<IoError>>(
    source: &Source,
    reader: Limited<Reader>,
    tokenizer: Option<&TextTokenizer>,
    each: &mut impl FnMut(Document, Part, u64) -> Result<(), E>,
) -> Result<u64, E> {
    let name = source.name();
    let doc = |text: String| Document {
        source: name.clone(),
        line: None,
        id: None,
        text,
        prompt: None,
        account: None,
    };
    let counter = reader.counter();
    let mut chunks: Box<dyn Iterator<Item = std::io::Result<String>>> = match tokenizer {
        Some(tok) => Box::new(tok.chunks(reader, PIECE_BYTES)),
        None => Box::new(std::iter::once(read_whole(reader))),
    };
    // Whitespace before the first text is held back, so that an empty input is an error
    // before anything is delivered; each piece is delivered once the next one is known.
    let mut held = String::new();
    let mut pending: Option<String> = None;
    let mut first = true;
    for chunk in &mut chunks {
        let chunk = chunk.map_err(|e| stream_error(&name, e))?;
        if pending.is_none() && chunk.trim().is_empty() {
            held.push_str(&chunk);
            continue;
        }
        let chunk = std::mem::take(&mut held) + &chunk;
        if let Some(previous) = pending.replace(chunk) {
            let part = Part { first, last: false };
            each(doc(previous), part, counter.get())?;
            first = false;
        }
    }
    match pending {
        Some(last) => {
            each(doc(last), Part { first, last: true }, counter.get())?;
            Ok(1)
        }
        None => Ok(0),
    }
}

fn read_whole(mut reader: impl Read) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("input is not UTF-8 text (invalid byte at offset {offset})"),
        )
    })
}

/// A reader that refuses more than `max` bytes and any NUL byte (binary input), counting
/// what it read.
struct Limited<R> {
    inner: R,
    read: u64,
    max: u64,
    shared: Rc<Cell<u64>>,
}

impl<R> Limited<R> {
    fn new(inner: R, max: u64) -> Self {
        Self {
            inner,
            read: 0,
            max,
            shared: Default::default(),
        }
    }

    /// A handle on the count of bytes read, for progress.
    fn counter(&self) -> Rc<Cell<u64>> {
        self.shared.clone()
    }

    fn check(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.read += bytes.len() as u64;
        self.shared.set(self.read);
        let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
        if self.read > self.max {
            let max = self.max;
            return Err(invalid(format!(
                "input is larger than the limit of {max} bytes"
            )));
        }
        if bytes.contains(&0) {
            return Err(invalid(
                "input is binary, not text (it contains NUL bytes)".into(),
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
