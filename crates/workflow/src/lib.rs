//! The workflows of tracemark, one layer above the libraries and below every front end: the
//! `tracemark` command, the demo, the paper reproductions and the server all call these
//! functions, so they do the same thing the same way.
//!
//! - **Answer** prompts with any model ([`Chat`]: a GGUF model through its chat template, or
//!   a student through its training format), one at a time or as a resumable batch that
//!   refuses to mix runs ([`batch`]), or as a teacher corpus cached by content ([`corpus`]).
//! - **Distil** a student from harvested answers ([`distil`]).
//! - **Question** a suspect with held-out prompts ([`question`]).
//! - **Investigate** a suspect: one radioactivity test with random-key controls and report
//!   samples ([`investigate`]), and under a master key, which accounts it learned from
//!   ([`trace`] from its answers, [`trace_reading`] from its weights).
//! - **Keep the ledger** of accounts and served requests ([`ledger`]).
//! - **Serve** a model to concurrent requests ([`serving`]: several sequences at once).
//!
//! Long jobs report through [`Progress`]; every failure is a [`WorkflowError`].
//!
//! # Why llama.cpp is a feature here
//! Only opening a GGUF model needs llama.cpp ([`models`]); with the `llama` feature off, that
//! one step fails with an error naming the feature, and everything else (students,
//! detection, closed tests, reading mode on student files) builds with cargo alone.

#![deny(missing_docs)]

pub mod batch;
pub mod chat;
pub mod corpus;
pub mod distil;
mod error;
pub mod investigate;
pub mod ledger;
pub mod models;
mod progress;
pub mod question;
pub mod serving;
mod template;
pub mod trace;
pub mod trace_reading;

pub use batch::{Batch, BatchSummary, ServedTo, answer_record, run_batch};
pub use chat::{Answer, Chat, PromptFormat};
pub use error::WorkflowError;
pub use models::GgufOptions;
pub use progress::{Bars, OnlyUnit, Progress, Quiet};
pub use template::{ChatTemplate, Message};

/// Whether this build runs GGUF models (the `llama` feature).
pub const HAS_LLAMA: bool = cfg!(feature = "llama");
