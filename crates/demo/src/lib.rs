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
//! 5. With an [`AccountStory`], the teacher also serves the training prompts to many
//!    accounts under a master key; a few accounts harvest, a student is distilled from their
//!    answers mixed with clean data, and attribution must name them and no one else.

#![deny(missing_docs)]

mod accounts;
mod prompts;
mod run;

pub use accounts::{AccountStory, HARVEST_SHARE, Serving, serve};
pub use prompts::{Prompt, PromptSet, Split};
pub use run::{
    DEMO_CONTEXT, DEMO_DELTA, DemoOptions, DemoOutcome, Row, Scale, demo_config, demo_key, run,
};
