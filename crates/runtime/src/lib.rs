//! The llama.cpp engine for tracemark: [`LlamaModel`] runs any GGUF model that llama.cpp
//! runs, behind the engine-agnostic [`LanguageModel`] interface.
//!
//! # Why llama.cpp is confined to this crate
//!
//! This is the only crate in the workspace that links llama.cpp (through `llama-cpp-2`).
//! Building llama.cpp needs a C++ toolchain, cmake and libclang, takes minutes, and brings
//! in unsafe FFI and `libstdc++`/`libgomp` at run time. Generating watermarked text needs a
//! model, but *detecting* a watermark needs only the tokenizer, which `tracemark-gguf`
//! rebuilds in pure Rust from the GGUF metadata. So everything else (the generation loop,
//! chat templates, students, detection, radioactivity) is written against
//! [`LanguageModel`] and builds with cargo alone; the `tracemark` binary takes this crate
//! only through its default `llama` feature. A llama.cpp upgrade (pinned exactly:
//! `llama-cpp-2 =0.1.160`, `llama-cpp-sys-2 =0.1.161`) touches one crate.
//!
//! [`LlamaModel::load`] checks the file in pure Rust first, so a corrupt file gives an
//! error, never an abort; it runs on CPU (or CUDA with the `cuda` feature) and also exposes
//! llama.cpp's own tokenizer.
//!
//! ```no_run
//! use tracemark_runtime::{LanguageModel, LlamaModel, LoadOptions, argmax};
//!
//! let path = std::path::Path::new("SmolLM2-135M-Instruct.Q4_1.gguf");
//! let mut model = LlamaModel::load(path, &LoadOptions::default())?;
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

mod error;
mod llama;

pub use error::RuntimeError;
pub use llama::{LlamaModel, LoadOptions};
pub use tracemark_model::{BatchedModel, LanguageModel, Logits, ModelError, argmax, check_steps};
