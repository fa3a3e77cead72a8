//! Text-level detection: tokenize each document, detect, and map token outcomes back to text.

use serde::Serialize;
use tracemark_core::Watermark;
use tracemark_io::{Document, IoError, Part, TextTokenizer};

use crate::{DetectOptions, Detection, Detector, TokenStatus};

/// One token of the text with its outcome, for highlighting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenView {
    /// The token's text (may be empty where a multi-byte character spans tokens).
    pub text: String,
    /// Token id.
    pub id: u32,
    /// Scored (with its score) or skipped (with the reason).
    pub status: TokenStatus,
}

/// Detection result for one document.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentResult {
    /// Input name.
    pub source: String,
    /// JSONL line number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Record id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The detection.
    #[serde(flatten)]
    pub detection: Detection,
    /// Per-token view, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "token_detail")]
    pub tokens: Option<Vec<TokenView>>,
}

/// Detects the watermark of one key in text documents.
#[derive(Debug)]
pub struct TextDetector<'a> {
    tokenizer: &'a TextTokenizer,
    detector: Detector<'a>,
    prompt_ids: Option<Vec<u32>>,
    per_token: bool,
    /// The text and id of every token of the document being read, for the per-token view.
    views: Vec<(String, u32)>,
}

impl<'a> TextDetector<'a> {
    /// A detector; `prompt` (e.g. from `--prompt`) is excluded from every document.
    pub fn new(
        watermark: &'a Watermark,
        tokenizer: &'a TextTokenizer,
        options: DetectOptions,
        prompt: Option<&str>,
    ) -> Result<Self, IoError> {
        let prompt_ids = prompt
            .map(|p| tokenizer.encode(p).map(|e| e.ids))
            .transpose()?;
        Ok(Self {
            tokenizer,
            detector: Detector::new(watermark, options),
            prompt_ids,
            per_token: options.per_token,
            views: Vec::new(),
        })
    }

    /// Tokenizes and detects one document. Its own `prompt`, if any, is excluded as well.
    pub fn detect(&mut self, doc: &Document) -> Result<DocumentResult, IoError> {
        let result = self.detect_piece(doc, Part::WHOLE)?;
        Ok(result.expect("a whole document is its own last piece"))
    }

    /// Tokenizes and scores one piece of a document, as [`tracemark_io::for_each_piece`]
    /// delivers them (pieces end where the tokenizer splits exactly, so the result equals
    /// [`detect`](Self::detect) on the whole text). Returns the document's result after its
    /// last piece. The first piece's `prompt` is the document's.
    pub fn detect_piece(
        &mut self,
        doc: &Document,
        part: Part,
    ) -> Result<Option<DocumentResult>, IoError> {
        if part.first {
            let mut prompt = self.prompt_ids.clone();
            if let Some(p) = &doc.prompt {
                prompt
                    .get_or_insert_with(Vec::new)
                    .extend(self.tokenizer.encode_ids(p)?);
            }
            self.detector.begin(prompt.as_deref());
            self.views.clear();
        }
        if self.per_token {
            let enc = self.tokenizer.encode(&doc.text)?;
            let texts = enc.spans.iter().map(|&(s, e)| doc.text[s..e].to_string());
            self.views.extend(texts.zip(enc.ids.iter().copied()));
            self.detector.feed(&enc.ids);
        } else {
            self.detector.feed(&self.tokenizer.encode_ids(&doc.text)?);
        }
        if !part.last {
            return Ok(None);
        }
        let mut detection = self.detector.end();
        let views = std::mem::take(&mut self.views);
        let tokens = detection.per_token.take().map(|statuses| {
            statuses
                .into_iter()
                .zip(views)
                .map(|(status, (text, id))| TokenView { text, id, status })
                .collect()
        });
        Ok(Some(DocumentResult {
            source: doc.source.clone(),
            line: doc.line,
            id: doc.id.clone(),
            detection,
            tokens,
        }))
    }

    /// Documents seen so far.
    pub fn documents(&self) -> u64 {
        self.detector.documents()
    }

    /// All documents as one stream with global dedup.
    pub fn aggregate(&self) -> Detection {
        self.detector.aggregate()
    }
}
