//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong loading or running a model.
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
