//! Streaming a reader's text in chunks that end at safe split points.

use std::io::{self, Read};

use super::TextTokenizer;

/// Chunks of a reader's UTF-8 text, each ending at a safe split point of the tokenizer
/// ([`TextTokenizer::is_split_point`]), the last one at the end of the text: tokenizing
/// each chunk and concatenating (spans shifted by the bytes before the chunk) gives
/// exactly the tokens of the whole text.
///
/// A chunk is cut at the last safe point within its first `chunk_bytes` bytes, else at
/// the first one after; memory stays about twice `chunk_bytes` as long as safe points
/// keep coming (in prose, every word). A tokenizer without safe points
/// ([`TextTokenizer::is_chunkable`] false) yields the whole text as one chunk. Invalid
/// UTF-8 is an [`io::ErrorKind::InvalidData`] error.
#[derive(Debug)]
pub struct TextChunks<'t, R> {
    tokenizer: &'t TextTokenizer,
    reader: R,
    chunk_bytes: usize,
    /// Text read and not yet yielded.
    text: String,
    /// Bytes read after the last complete character.
    partial: Vec<u8>,
    /// Read buffer.
    block: Vec<u8>,
    /// Offsets `1..=checked` of `text` are known not to be safe split points.
    checked: usize,
    eof: bool,
    failed: bool,
}

impl<'t, R: Read> TextChunks<'t, R> {
    pub(super) fn new(tokenizer: &'t TextTokenizer, reader: R, chunk_bytes: usize) -> Self {
        Self {
            tokenizer,
            reader,
            chunk_bytes: chunk_bytes.max(1),
            text: String::new(),
            partial: Vec::new(),
            block: vec![0; chunk_bytes.clamp(64, 1 << 16)],
            checked: 0,
            eof: false,
            failed: false,
        }
    }

    /// A safe split point of the text read so far whatever follows it, if any.
    fn find_cut(&mut self) -> Option<usize> {
        let tok = self.tokenizer;
        // Before the end, only points with enough text after them are judged.
        let limit = if self.eof {
            self.text.len().saturating_sub(1)
        } else {
            self.text.len().saturating_sub(tok.split_lookahead())
        };
        let safe = |i: usize| tok.is_split_point(&self.text, i);
        if limit <= self.checked || !tok.is_chunkable() {
            return None;
        }
        let found = if self.checked == 0 {
            let near = self.chunk_bytes.min(limit);
            (1..=near)
                .rev()
                .find(|&i| safe(i))
                .or_else(|| (near + 1..=limit).find(|&i| safe(i)))
        } else {
            (self.checked + 1..=limit).find(|&i| safe(i))
        };
        if found.is_none() {
            self.checked = limit;
        }
        found
    }

    /// Reads one block; `Ok(false)` at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        let n = loop {
            match self.reader.read(&mut self.block) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            if !self.partial.is_empty() {
                return Err(invalid_utf8());
            }
            return Ok(false);
        }
        self.partial.extend_from_slice(&self.block[..n]);
        // Complete characters move to `text`; an incomplete last one waits for more bytes.
        let valid = match std::str::from_utf8(&self.partial) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(invalid_utf8()),
        };
        let text = std::str::from_utf8(&self.partial[..valid]).map_err(|_| invalid_utf8())?;
        self.text.push_str(text);
        self.partial.drain(..valid);
        Ok(true)
    }
}

fn invalid_utf8() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "input is not valid UTF-8")
}

impl<R: Read> Iterator for TextChunks<'_, R> {
    type Item = io::Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let need = if self.eof {
                self.chunk_bytes
            } else {
                self.chunk_bytes + self.tokenizer.split_lookahead()
            };
            if self.text.len() > need
                && let Some(i) = self.find_cut()
            {
                let rest = self.text.split_off(i);
                self.checked = 0;
                return Some(Ok(std::mem::replace(&mut self.text, rest)));
            }
            if self.eof {
                return (!self.text.is_empty()).then(|| Ok(std::mem::take(&mut self.text)));
            }
            match self.fill() {
                Ok(more) => self.eof = !more,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
