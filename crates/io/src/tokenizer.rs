//! Tokenizers: any Hugging Face `tokenizer.json`, a GGUF model's own tokenizer, or the
//! bundled tokenizer of the default model (SmolLM2-135M-Instruct).

use std::io::Read;
use std::path::Path;

use tokenizers::Tokenizer;
use tracemark_core::TokenId;

use crate::IoError;

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
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("name", &self.name)
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
        Ok(Self {
            inner,
            name: path.display().to_string(),
        })
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
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| IoError::Tokenizer {
                path: self.name.clone(),
                message: format!("cannot encode text: {}", one_line(&e.to_string())),
            })?;
        let mut spans = Vec::with_capacity(enc.len());
        let mut prev_end = 0;
        for &(start, end) in enc.get_offsets() {
            let start = floor_char_boundary(text, start.max(prev_end));
            let end = floor_char_boundary(text, end.max(start));
            spans.push((start.min(end), end));
            prev_end = end;
        }
        Ok(Encoded {
            ids: enc.get_ids().to_vec(),
            spans,
        })
    }

    /// Encodes `text` to ids only, without byte spans: faster than [`TextTokenizer::encode`]
    /// when no highlighting is needed.
    pub fn encode_ids(&self, text: &str) -> Result<Vec<TokenId>, IoError> {
        self.inner
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| IoError::Tokenizer {
                path: self.name.clone(),
                message: format!("cannot encode text: {}", one_line(&e.to_string())),
            })
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
