//! The workflow layer's one error type: every lower layer's error, plus what only a
//! workflow can get wrong (a resumed output that does not match, a disabled feature).

use std::path::PathBuf;

/// What can stop a workflow. Messages are one line and never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// Files, tokenizers, inputs.
    #[error(transparent)]
    Io(#[from] tracemark_io::IoError),
    /// Evaluating a model.
    #[error(transparent)]
    Model(#[from] tracemark_model::ModelError),
    /// Student training.
    #[error(transparent)]
    Student(#[from] tracemark_student::StudentError),
    /// Sampling settings.
    #[error(transparent)]
    Sampling(#[from] tracemark_embed::EmbedError),
    /// Account attribution.
    #[error(transparent)]
    Attribution(#[from] tracemark_attribution::AttributionError),
    /// The provider's ledger.
    #[error(transparent)]
    Ledger(#[from] tracemark_ledger::LedgerError),
    /// Watermark parameters.
    #[error(transparent)]
    Config(#[from] tracemark_core::CoreError),
    /// Loading or running a GGUF model with llama.cpp.
    #[cfg(feature = "llama")]
    #[error(transparent)]
    Runtime(#[from] tracemark_runtime::RuntimeError),
    /// A chat template could not be compiled or rendered.
    #[error("chat template: {0}")]
    Template(String),
    /// An output file to resume holds records of another run.
    #[error("{}: {message}", path.display())]
    Resume {
        /// The output file.
        path: PathBuf,
        /// What differs, and what to do.
        message: String,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Invalid(String),
    /// A directory could not be created.
    #[error("{}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The work needs llama.cpp, which this build leaves out.
    #[error(
        "{what} needs llama.cpp, which this build of tracemark leaves out: rebuild it with the \
         `llama` feature (on by default: cargo install tracemark-cli)"
    )]
    NoLlama {
        /// What was asked for, e.g. "running a GGUF model".
        what: String,
    },
}

impl WorkflowError {
    /// Creates `path` (and its parents), naming it on failure.
    pub fn create_dir(path: &std::path::Path) -> Result<(), Self> {
        std::fs::create_dir_all(path).map_err(|source| Self::Dir {
            path: path.to_path_buf(),
            source,
        })
    }
}
