//! Students: models distilled from a teacher's harvested answers, to show that
//! radioactivity detection works on a model that never saw the watermark key.
//!
//! A student here is a token-level n-gram language model, [`KneserNey`] (interpolated
//! modified Kneser-Ney, order 4 by default), trained by [`Trainer`] over the **teacher's own
//! token ids**, so it shares the teacher's vocabulary and tokenizer and can be read, scored
//! and generated from wherever a model can.
//!
//! # Key decision: a student is just a [`LanguageModel`]
//!
//! Generation, teacher forcing and radioactivity's reading mode take a
//! `&mut dyn LanguageModel`, and [`KneserNey`] implements that trait: `start`/`step` give
//! full-vocabulary logits (natural logs of probabilities, finite for every token),
//! `score_all` teacher-forces a sequence, and `top1_all` finds each position's argmax from
//! the few tokens seen after its context instead of the whole vocabulary. A fine-tuned
//! transformer student can replace it later without changes anywhere else.
//!
//! # Chat-like training format
//!
//! Each (prompt, answer) pair is one training sequence
//! `prompt ++ [separator] ++ answer ++ [end_of_answer]`, with the separator and
//! end-of-answer ids taken from the teacher's vocabulary ([`SpecialTokens`]; for ChatML
//! tokenizers, `<|im_start|>` and `<|im_end|>`) and stored in the model. Answering a prompt
//! is then `start(chat_prompt(prompt))` and stepping until the end-of-answer token, which is
//! the model's only end-of-generation token: the n-gram context carries the prompt.
//!
//! # Files
//!
//! [`KneserNey::to_bytes`] and [`KneserNey::from_bytes`] convert to and from a versioned,
//! SHA-256-checksummed format; [`files`] distils a student from a JSONL corpus over a
//! tokenizer, and saves (atomically) and loads student files with errors that name them.

#![deny(missing_docs)]

mod config;
mod error;
pub mod files;
mod format;
mod model;
mod tables;
mod train;

#[cfg(test)]
mod tests;

pub use config::{MAX_ORDER, MIN_ORDER, SpecialTokens, StudentConfig};
pub use error::StudentError;
pub use format::{FORMAT_VERSION, MAGIC};
pub use model::KneserNey;
pub use tables::estimate_discounts;
pub use tracemark_model::LanguageModel;
pub use train::Trainer;
