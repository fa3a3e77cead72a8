//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use tracemark_runtime::{LlamaModel, LoadOptions};

/// The real GGUF model from `TRACEMARK_TEST_GGUF`. When unset: panics under CI (env `CI`),
/// otherwise prints a skip notice and returns `None`.
pub fn model_path() -> Option<PathBuf> {
    match std::env::var_os("TRACEMARK_TEST_GGUF").filter(|v| !v.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "TRACEMARK_TEST_GGUF={} is not a file",
                p.display()
            );
            Some(p)
        }
        None if std::env::var_os("CI").is_some() => panic!(
            "TRACEMARK_TEST_GGUF is not set: under CI it must name a copy of \
             SmolLM2-135M-Instruct.Q4_1.gguf (the default model, see fetch_default_model)"
        ),
        None => {
            eprintln!("skipping: TRACEMARK_TEST_GGUF not set");
            None
        }
    }
}

/// Load the test model with small defaults suited to tests (2 threads, 2048 context).
pub fn load() -> Option<LlamaModel> {
    let path = model_path()?;
    let opts = LoadOptions {
        n_ctx: 2048,
        n_threads: 2,
        ..LoadOptions::default()
    };
    Some(LlamaModel::load(&path, &opts).expect("loading the test model"))
}

/// The hand-built ChatML prompt for a single user message, with SmolLM's default system
/// prompt.
pub fn chatml(user: &str) -> String {
    format!(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )
}
