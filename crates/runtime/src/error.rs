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

    /// Evaluating the model failed (empty input, context full, bad token id, decode error).
    #[error(transparent)]
    Model(#[from] tracemark_model::ModelError),

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

impl From<RuntimeError> for tracemark_model::ModelError {
    /// Model errors pass through; anything else becomes an engine error with its message.
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Model(m) => m,
            other => tracemark_model::ModelError::Engine(other.to_string()),
        }
    }
}
