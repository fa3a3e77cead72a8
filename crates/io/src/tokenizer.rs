//! Tokenizers: any Hugging Face `tokenizer.json`, a GGUF model's own tokenizer, or the
//! bundled tokenizer of the default model (SmolLM2-135M-Instruct).
//!
//! Byte-level BPE tokenizers (the bundled one, GGUF-derived ones, GPT-2/Llama 3/Qwen2-style
//! `tokenizer.json`s) are run by a fast path that gives exactly HF's ids and spans
//! ([`TextTokenizer::is_fast`]); anything else goes through the HF pipeline. Where the
//! pre-tokenizer allows it, texts can be cut into chunks that tokenize exactly like the
//! whole ([`TextTokenizer::split_point`], [`TextTokenizer::chunks`]).

mod cache;
mod chunk;
mod fast;
mod pretok;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use tokenizers::Tokenizer;
use tracemark_core::TokenId;

use crate::IoError;
pub use chunk::TextChunks;
use fast::{FastPath, Sink};

/// The default model's tokenizer, exported from its GGUF by `tracemark-gguf` (Apache-2.0,
/// Hugging Face SmolLM2). Bundled so text detection needs no download.
const DEFAULT_TOKENIZER_JSON: &[u8] =
    include_bytes!("../assets/smollm2-135m-instruct.tokenizer.json");

/// Name of the bundled tokenizer.
pub const DEFAULT_TOKENIZER_NAME: &str = "SmolLM2-135M-Instruct (bundled)";

/// A tokenizer that maps text to ids with byte offsets.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    name: String,
    /// The fast path, when it reproduces `inner` exactly.
    fast: Option<Arc<FastPath>>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("name", &self.name)
            .field("fast", &self.fast.is_some())
            .finish_non_exhaustive()
    }
}

/// Token ids of a text with the byte span of each token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoded {
    /// Token ids, without special tokens added.
    pub ids: Vec<TokenId>,
    /// Byte span of each token in the text; spans never overlap and stay on char boundaries.
    pub spans: Vec<(usize, usize)>,
}

impl TextTokenizer {
    /// Loads `tokenizer.json` or, if the file starts with the GGUF magic, a GGUF model's tokenizer.
    pub fn load(path: &Path) -> Result<Self, IoError> {
        let fail = |message: String| IoError::Tokenizer {
            path: path.display().to_string(),
            message,
        };
        let mut magic = [0u8; 4];
        let mut file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
        let is_gguf = file.read_exact(&mut magic).is_ok() && &magic == b"GGUF";
        let inner = if is_gguf {
            let meta = tracemark_gguf::GgufMetadata::read(path).map_err(IoError::Gguf)?;
            tracemark_gguf::tokenizer_from_gguf(&meta).map_err(IoError::Gguf)?
        } else {
            Tokenizer::from_file(path).map_err(|e| {
                fail(format!(
                    "not a tokenizer.json or GGUF file ({})",
                    one_line(&e.to_string())
                ))
            })?
        };
        Ok(Self::from_tokenizer(inner, &path.display().to_string()))
    }

    /// The tokenizer at `path` ([`load`](Self::load)), or the bundled default when none is
    /// given.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, IoError> {
        match path {
            Some(p) => Self::load(p),
            None => Self::default_model(),
        }
    }

    /// The bundled tokenizer of the default model.
    pub fn default_model() -> Result<Self, IoError> {
        let inner =
            Tokenizer::from_bytes(DEFAULT_TOKENIZER_JSON).map_err(|e| IoError::Tokenizer {
                path: DEFAULT_TOKENIZER_NAME.into(),
                message: e.to_string(),
            })?;
        Ok(Self::from_tokenizer(inner, DEFAULT_TOKENIZER_NAME))
    }

    /// Wraps an existing tokenizer.
    pub fn from_tokenizer(inner: Tokenizer, name: &str) -> Self {
        Self {
            fast: FastPath::new(&inner).map(Arc::new),
            inner,
            name: name.to_string(),
        }
    }

    /// Where the tokenizer came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Encodes `text` without adding special tokens, as a response is tokenized when generated.
    pub fn encode(&self, text: &str) -> Result<Encoded, IoError> {
        match &self.fast {
            Some(fast) if fast.spans_exact() => {
                let mut sink = SpanSink::new(text);
                fast.encode(self.inner.get_model(), text, &mut sink)
                    .map_err(|e| self.encode_error(&*e))?;
                Ok(sink.encoded)
            }
            _ => self.encode_hf(text),
        }
    }

    /// Encodes `text` to ids only, without byte spans: faster than [`TextTokenizer::encode`]
    /// when no highlighting is needed.
    pub fn encode_ids(&self, text: &str) -> Result<Vec<TokenId>, IoError> {
        match &self.fast {
            Some(fast) => {
                let mut ids = Vec::with_capacity(text.len() / 3);
                fast.encode(self.inner.get_model(), text, &mut ids)
                    .map_err(|e| self.encode_error(&*e))?;
                Ok(ids)
            }
            None => self.encode_ids_hf(text),
        }
    }

    /// [`TextTokenizer::encode`] through the Hugging Face pipeline, whatever the tokenizer:
    /// the reference the fast path is tested and benchmarked against.
    pub fn encode_hf(&self, text: &str) -> Result<Encoded, IoError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| self.encode_error(&*e))?;
        let mut sink = SpanSink::new(text);
        for (&id, &(start, end)) in enc.get_ids().iter().zip(enc.get_offsets()) {
            sink.push(id, start, end);
        }
        Ok(sink.encoded)
    }

    /// [`TextTokenizer::encode_ids`] through the Hugging Face pipeline (`encode_fast`).
    pub fn encode_ids_hf(&self, text: &str) -> Result<Vec<TokenId>, IoError> {
        self.inner
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| self.encode_error(&*e))
    }

    /// Whether this tokenizer runs on the fast path (ids always, spans too unless its
    /// post-processor trims offsets) rather than the Hugging Face pipeline.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }

    /// Whether texts can be cut into exactly-tokenizing chunks
    /// ([`TextTokenizer::split_point`] may return `Some`).
    pub fn is_chunkable(&self) -> bool {
        self.fast.as_ref().is_some_and(|f| f.is_chunkable())
    }

    /// Whether `i` is a safe split point of `text`: tokenizing `text[..i]` and `text[i..]`
    /// apart and concatenating (spans of the second part shifted by `i`) gives exactly the
    /// ids and spans of tokenizing `text` whole.
    ///
    /// Safe points are known for GPT-2-style pre-tokenizers (between a non-whitespace and a
    /// whitespace character) and Llama-3-style ones (the same, except before `\r`/`\n`),
    /// never inside an added token; other tokenizers have none.
    pub fn is_split_point(&self, text: &str, i: usize) -> bool {
        self.fast.as_ref().is_some_and(|f| f.is_cut(text, i))
    }

    /// A safe split point of `text` (see [`TextTokenizer::is_split_point`]) near the byte
    /// offset `near`: the last one at or before it, else the first after it; `None` if there
    /// is none (then tokenize `text` whole).
    pub fn split_point(&self, text: &str, near: usize) -> Option<usize> {
        let fast = self.fast.as_ref().filter(|f| f.is_chunkable())?;
        let near = near.min(text.len());
        let before = (1..=near).rev().find(|&i| fast.is_cut(text, i));
        before.or_else(|| (near + 1..text.len()).find(|&i| fast.is_cut(text, i)))
    }

    /// The UTF-8 text of `reader` in chunks of about `chunk_bytes` bytes, each ending at a
    /// safe split point, so that tokenizing the chunks one by one gives exactly the tokens
    /// of the whole text with memory bounded by the chunk size. See [`TextChunks`].
    ///
    /// ```
    /// use tracemark_io::TextTokenizer;
    ///
    /// let tok = TextTokenizer::default_model()?;
    /// let text = "Exact chunks: the tokens of the parts are the tokens of the whole. ".repeat(50);
    /// let mut ids = Vec::new();
    /// for chunk in tok.chunks(text.as_bytes(), 256) {
    ///     ids.extend(tok.encode_ids(&chunk.expect("valid UTF-8"))?);
    /// }
    /// assert_eq!(ids, tok.encode_ids(&text)?);
    /// # Ok::<(), tracemark_io::IoError>(())
    /// ```
    pub fn chunks<R: Read>(&self, reader: R, chunk_bytes: usize) -> TextChunks<'_, R> {
        TextChunks::new(self, reader, chunk_bytes)
    }

    /// Bytes of text a split point needs after it to be judged safe whatever follows.
    fn split_lookahead(&self) -> usize {
        self.fast.as_ref().map_or(0, |f| f.lookahead())
    }

    fn encode_error(&self, e: &dyn std::error::Error) -> IoError {
        IoError::Tokenizer {
            path: self.name.clone(),
            message: format!("cannot encode text: {}", one_line(&e.to_string())),
        }
    }

    /// The text of `ids` (special tokens included); empty if they cannot be decoded.
    pub fn decode(&self, ids: &[TokenId]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    /// The underlying Hugging Face tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// Collects tokens into an [`Encoded`], turning HF's offsets into spans: never overlapping
/// (a token sharing a character with the previous one gets an empty span) and on char
/// boundaries.
struct SpanSink<'t> {
    text: &'t str,
    prev_end: usize,
    encoded: Encoded,
}

impl<'t> SpanSink<'t> {
    fn new(text: &'t str) -> Self {
        let cap = text.len() / 3;
        Self {
            text,
            prev_end: 0,
            encoded: Encoded {
                ids: Vec::with_capacity(cap),
                spans: Vec::with_capacity(cap),
            },
        }
    }
}

impl Sink for SpanSink<'_> {
    fn push(&mut self, id: u32, start: usize, end: usize) {
        let start = floor_char_boundary(self.text, start.max(self.prev_end));
        let end = floor_char_boundary(self.text, end.max(start));
        self.encoded.ids.push(id);
        self.encoded.spans.push((start.min(end), end));
        self.prev_end = end;
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_tokenizer_round_trips_and_spans_cover_the_text() {
        let tok = TextTokenizer::default_model().unwrap();
        assert_eq!(tok.vocab_size(), 49_152);
        let text = "Café 12345 naïve 日本語 👍🏽\n\tfn main() {}";
        let enc = tok.encode(text).unwrap();
        assert_eq!(tok.inner().decode(&enc.ids, false).unwrap(), text);
        let covered: String = enc.spans.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(covered, text);
        // SmolLM splits digits one per token.
        assert_eq!(tok.encode("12345").unwrap().ids.len(), 5);
    }

    #[test]
    fn tokenizers_can_be_shared_across_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<TextTokenizer>();
        let tok = TextTokenizer::default_model().unwrap();
        assert!(tok.is_fast() && tok.is_chunkable());
        assert!(format!("{tok:?}").contains("fast: true"));
    }

    #[test]
    fn missing_and_corrupt_tokenizers_are_errors() {
        let err = TextTokenizer::load(Path::new("/no/such/tokenizer.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/tokenizer.json"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        std::fs::write(&p, "{\"nope\": 1}").unwrap();
        let err = TextTokenizer::load(&p).unwrap_err().to_string();
        assert!(
            !err.contains('\n') && err.contains("not a tokenizer.json"),
            "{err}"
        );
        std::fs::write(&p, b"GGUF\x03\x00").unwrap();
        assert!(TextTokenizer::load(&p).is_err());
    }
}
