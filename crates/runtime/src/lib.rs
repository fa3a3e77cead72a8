//! Language-model runtime for tracemark: the [`LanguageModel`] interface, a llama.cpp
//! implementation of it ([`LlamaModel`]), and fetching of the default model.
//!
//! # Why llama.cpp is confined to this crate
//!
//! This is the only crate in the workspace that links llama.cpp (through `llama-cpp-2`).
//! Building llama.cpp needs a C++ toolchain, cmake and libclang, takes minutes, and
//! brings in unsafe FFI and `libstdc++`/`libgomp` at run time. Generating watermarked
//! text needs a model, but *detecting* a watermark needs only the tokenizer, which
//! `tracemark-gguf` rebuilds in pure Rust from the GGUF metadata. Keeping llama.cpp here
//! means detection, scoring and everything else build on any machine with only `cargo`,
//! and a llama.cpp upgrade (pinned exactly: `llama-cpp-2 =0.1.160`,
//! `llama-cpp-sys-2 =0.1.161`) touches one crate.
//!
//! # Overview
//!
//! - [`LanguageModel`]: `start` a sequence, `step` one token at a time, or teacher-force a
//!   whole sequence with `score_all` / `top1_all`. Engine-agnostic; student models
//!   implement it too.
//! - [`LlamaModel`]: loads a GGUF file (validated in pure Rust first, so a corrupt file
//!   gives an error, never an abort), runs it on CPU (or CUDA with the `cuda` feature),
//!   and exposes llama.cpp's own tokenizer.
//! - [`ChatTemplate`] renders a GGUF's Jinja chat template; [`generate`] runs the decode
//!   loop through a `tracemark-embed` embedder, watermarked or not.
//! - [`default_model_path`] / [`fetch_default_model`]: the pinned default model
//!   (SmolLM2-135M-Instruct Q4_1), cached and SHA-256-verified; [`model_info`] describes
//!   any GGUF file.
//!
//! ```no_run
//! use tracemark_runtime::{LanguageModel, LlamaModel, LoadOptions, argmax, default_model_path};
//!
//! let mut model = LlamaModel::load(&default_model_path()?, &LoadOptions::default())?;
//! let prompt = model.tokenize("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", true)?;
//! model.ensure_fits(prompt.len(), 20)?;
//! let mut next = argmax(model.start(&prompt)?);
//! let mut out = Vec::new();
//! while out.len() < 20 && !model.is_eog(next) {
//!     out.push(next);
//!     next = argmax(model.step(next)?);
//! }
//! println!("{}", model.detokenize(&out)?);
//! # Ok::<(), tracemark_runtime::RuntimeError>(())
//! ```

#![deny(missing_docs)]

mod batch;
mod chat;
mod error;
mod fetch;
mod generate;
mod llama;

pub use batch::{BatchOutput, Record, read_prompts};
pub use chat::{ChatTemplate, Message};
pub use error::RuntimeError;
pub use fetch::{
    DEFAULT_MODEL_FILE, DEFAULT_MODEL_PACKAGE, DEFAULT_MODEL_SHA256, DEFAULT_MODEL_SIZE, ModelInfo,
    cache_dir, default_model_path, fetch_default_model, model_info, sha256_file,
};
pub use generate::{Answer, Chat, Generation, Observer, StopReason, generate, generate_observed};
pub use llama::{LlamaModel, LoadOptions};
pub use tracemark_model::{LanguageModel, Logits, ModelError, argmax};
