//! Shared helpers for the real-model integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use tracemark_workflow::{Chat, GgufOptions, Quiet};

/// The default model's GGUF, fetched on first use as `tracemark demo` fetches it. A test that
/// cannot get it fails.
pub fn model_path() -> PathBuf {
    tracemark_workflow::models::default_model(&Quiet).expect("the default model")
}

/// The default model as a chat (its own template and tokenizer), on 2 threads.
pub fn chat() -> Chat {
    let options = GgufOptions {
        threads: 2,
        verbose: false,
    };
    tracemark_workflow::models::gguf_chat(Some(&model_path()), &options, None, &Quiet)
        .expect("load the model")
}
