//! The file boundary of tracemark: key files, tokenizers and input documents, plus
//! text-level detection that ties a tokenizer to `tracemark-detect`.
//!
//! Everything that can fail on user input fails here, with one-line messages that name the
//! file and what is wrong; the libraries below only ever see validated values.
#![deny(missing_docs)]

pub mod atomic;
pub mod documents;
pub mod keyfile;
pub mod stream;
pub mod students;
pub mod suspect;
pub mod text;
pub mod tokenizer;

use std::path::PathBuf;

pub use documents::{DEFAULT_MAX_INPUT_BYTES, Document, InputFormat, Source, read_documents};
pub use keyfile::{read_key, write_key};
pub use stream::for_each_document;
pub use text::{DocumentResult, TextDetector, TokenView};
pub use tokenizer::{Encoded, TextTokenizer};

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
    /// A tokenizer could not be loaded or used.
    #[error("tokenizer {path}: {message}")]
    Tokenizer {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
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
