//! The distillation demo: a provider watermarks its answers, a competitor distils a student
//! from them, and an investigator proves it, with a clean control.
//!
//! 1. The teacher (the default model, llama.cpp) answers the training prompts with the
//!    watermark and without it; both corpora are cached by content.
//! 2. N-gram students are distilled from corpora with ρ = 100%, ρ small (5%) and 0%
//!    watermarked answers.
//! 3. Every student answers the held-out prompts.
//! 4. The investigator runs the closed test (plain and supervised) on those answers and the
//!    open test (reading mode) on each student, all with random-key controls, and writes the
//!    evidence report.

#![deny(missing_docs)]

mod corpus;
mod prompts;
mod run;
pub mod steps;

pub use corpus::{
    CorpusSpec, answer_record, model_identity, read_records, teacher_chat, teacher_corpus,
};
pub use prompts::{Prompt, PromptSet, Split};
pub use run::{
    DEMO_CONTEXT, DEMO_DELTA, DemoOptions, DemoOutcome, Row, Scale, demo_config, demo_key, run,
};
pub use steps::SUPERVISED_CONTEXT;

use std::path::Path;

/// Reports a demo's progress: named stages, each with counted steps.
pub trait Progress: Sync {
    /// A new stage begins.
    fn stage(&self, name: &str);
    /// A counted task of `len` steps begins within the stage.
    fn start(&self, len: u64, unit: &str);
    /// `n` steps done.
    fn inc(&self, n: u64);
    /// The counted task is done.
    fn finish(&self);
}

/// What can stop the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Model runtime (loading, generation, fetch).
    #[error(transparent)]
    Runtime(#[from] tracemark_runtime::RuntimeError),
    /// Files, tokenizer, inputs.
    #[error(transparent)]
    Io(#[from] tracemark_io::IoError),
    /// Student training.
    #[error(transparent)]
    Student(#[from] tracemark_student::StudentError),
    /// Sampling settings.
    #[error(transparent)]
    Sampling(#[from] tracemark_embed::EmbedError),
    /// A model error outside the runtime.
    #[error(transparent)]
    Model(#[from] tracemark_model::ModelError),
    /// Invalid watermark parameters.
    #[error(transparent)]
    Config(#[from] tracemark_core::CoreError),
    /// A directory could not be created.
    #[error("{}: {source}", path.display())]
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl DemoError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Dir {
            path: path.to_path_buf(),
            source,
        }
    }
}
