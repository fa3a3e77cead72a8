//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong loading, running or fetching a model.
///
/// Every message is one line and says what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The file is not a readable GGUF model (bad magic, truncated or corrupt metadata,
    /// unreadable file). Checked in pure Rust before llama.cpp sees the file.
    #[error("{0}")]
    Gguf(#[from] tracemark_gguf::GgufError),

    /// llama.cpp refused a file whose GGUF metadata parsed.
    #[error("{}: llama.cpp could not load the model: {message}", .path.display())]
    Load {
        /// Model file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// The llama.cpp backend or an inference context could not be created.
    #[error("llama.cpp: {0}")]
    Backend(String),

    /// `start` or `score_all` was given no tokens.
    #[error("cannot evaluate an empty token sequence (the prompt must hold at least one token)")]
    EmptyInput,

    /// `step` was called before `start` (or `score_all`).
    #[error("step() called before start(): no sequence to extend")]
    NotStarted,

    /// The sequence would not fit in the context window.
    #[error(
        "sequence of {needed} tokens does not fit the context window of {n_ctx} tokens; \
         shorten the prompt or generation, or load the model with a larger context (n_ctx)"
    )]
    ContextFull {
        /// Tokens the operation needs in the context.
        needed: usize,
        /// Context length of the loaded model.
        n_ctx: usize,
    },

    /// A token id is not in the vocabulary.
    #[error("token id {token} is out of range for a vocabulary of {vocab_size} tokens")]
    TokenOutOfRange {
        /// The offending id.
        token: u32,
        /// Vocabulary size.
        vocab_size: usize,
    },

    /// llama.cpp failed to evaluate a batch.
    #[error("llama.cpp decode failed: {0}")]
    Decode(String),

    /// Text too large to tokenize in one call.
    #[error("cannot tokenize: {0}")]
    Tokenize(String),

    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A prompts file or generation output file is malformed.
    #[error("{0}")]
    Prompts(String),

    /// A chat template could not be compiled or rendered.
    #[error("chat template: {0}")]
    Template(String),

    /// The default model could not be fetched; the message says how to get it by hand.
    #[error("{0}")]
    Fetch(String),

    /// A file's SHA-256 or size is not the pinned one.
    #[error("{}: {what} is {actual}, expected {expected}; refusing to use it", .path.display())]
    Verify {
        /// The file checked.
        path: PathBuf,
        /// What was checked (`SHA-256`, `size`).
        what: &'static str,
        /// Value found.
        actual: String,
        /// Pinned value.
        expected: String,
    },
}

impl RuntimeError {
    /// Shorthand for [`RuntimeError::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
