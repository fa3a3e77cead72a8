//! The distillation demo: a provider watermarks its answers, a competitor distils a student
//! from them, and an investigator proves it, with a clean control.

#![deny(missing_docs)]

mod prompts;

pub use prompts::{Prompt, PromptSet, Split};
