//! The file boundary of tracemark: key files, tokenizers, input documents, prompts, JSONL
//! outputs and the default model file.
//!
//! Everything that can fail on user input fails here, with one-line messages that name the
//! file and what is wrong; the crates above only ever see validated values. This crate
//! knows nothing of statistics or models: detection, students and radioactivity build on it.
#![deny(missing_docs)]

pub mod accounts;
pub mod atomic;
pub mod documents;
pub mod jsonl;
pub mod keyfile;
pub mod models;
pub mod prompts;
pub mod stream;
pub mod tokenizer;

use std::path::PathBuf;

pub use accounts::read_accounts;
pub use documents::{DEFAULT_MAX_INPUT_BYTES, Document, InputFormat, Source};
pub use jsonl::{JsonlAppender, read_complete_jsonl, write_jsonl};
pub use keyfile::{read_key, write_key};
pub use models::{DEFAULT_MODEL_FILE, ModelInfo, default_model_path, model_info};
pub use prompts::Prompts;
pub use stream::{Part, ReadOptions, for_each_document, for_each_piece};
pub use tokenizer::{Encoded, TextChunks, TextTokenizer};

impl IoError {
    /// Shorthand for [`IoError::File`].
    pub(crate) fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::File {
            path: path.into(),
            source,
        }
    }
}

/// Errors at the file boundary. Messages are one line and never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The output exists and overwriting was not allowed.
    #[error("{} already exists (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    /// A key file is missing fields, corrupt or inconsistent.
    #[error("{}: {message}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A GGUF file could not be read (the message names the file).
    #[error("tokenizer {0}")]
    Gguf(tracemark_gguf::GgufError),
    /// A model file is not readable GGUF (the message names the file).
    #[error("{0}")]
    Model(tracemark_gguf::GgufError),
    /// A tokenizer could not be loaded or used.
    #[error("tokenizer {path}: {message}")]
    Tokenizer {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A file operation failed (the message names the file and the cause).
    #[error("{}: {source}", path.display())]
    File {
        /// File or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The default model could not be fetched; the message says how to get it by hand.
    #[error("{0}")]
    Fetch(String),
    /// A file's SHA-256 or size is not the pinned one.
    #[error("{}: {what} is {actual}, expected {expected}; refusing to use it", path.display())]
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
    /// An input document is unusable.
    #[error("{input}: {message}")]
    Input {
        /// The input name, with `:LINE` for JSONL.
        input: String,
        /// What is wrong.
        message: String,
    },
}
