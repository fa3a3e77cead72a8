//! Pure-Rust reader for GGUF model metadata, and a llama.cpp-compatible tokenizer built
//! from it.
//!
//! Watermark detection must tokenize text exactly as the generating model did: one token
//! of difference shifts every score computed after it. Models served by llama.cpp carry
//! their tokenizer inside the GGUF file, so this crate reads the GGUF header and metadata
//! itself, in safe Rust, instead of linking llama.cpp: text detection then builds on any
//! machine without a C/C++ toolchain, and tokenizes like llama.cpp does.
//!
//! - [`GgufMetadata`] parses the header and every metadata key/value (GGUF versions 2 and
//!   3), stopping before the tensor infos. Corrupt input gives a [`GgufError`], never a
//!   panic or an oversized allocation (see the `MAX_*` limits).
//! - [`tokenizer_from_gguf`] turns the `tokenizer.ggml.*` keys into a Hugging Face
//!   [`tokenizers::Tokenizer`] reproducing llama.cpp's pre-tokenizer and BPE.
//! - [`eog_token_ids`] lists the end-of-generation tokens as llama.cpp does.
//!
//! ```no_run
//! use std::path::Path;
//! use tracemark_gguf::{GgufMetadata, tokenizer_from_gguf};
//!
//! let meta = GgufMetadata::read(Path::new("model.gguf"))?;
//! println!("{:?}", meta.summary());
//! let tokenizer = tokenizer_from_gguf(&meta)?;
//! let ids = tokenizer.encode("Hello world", false).unwrap().get_ids().to_vec();
//! # Ok::<(), tracemark_gguf::GgufError>(())
//! ```

#![deny(missing_docs)]

mod error;
mod metadata;
mod tokenizer;
mod value;

#[cfg(test)]
mod tests;

pub use error::GgufError;
pub use metadata::{
    GgufMetadata, MAX_ARRAY_DEPTH, MAX_ARRAY_LEN, MAX_KV_COUNT, MAX_STRING_LEN, ModelSummary,
};
pub use tokenizer::{PreTokenizerKind, eog_token_ids, tokenizer_from_gguf};
pub use value::{Value, ValueType};
