//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong reading GGUF metadata or building a tokenizer from it.
///
/// Every variant carries the path of the file (or `<reader>` for
/// [`GgufMetadata::from_reader`](crate::GgufMetadata::from_reader)) and its message says
/// what is wrong; parse errors also give the byte offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("{}: cannot read file: {source}", .path.display())]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The first four bytes are not `GGUF`.
    #[error("{}: not a GGUF file (bad magic)", .path.display())]
    BadMagic {
        /// File path.
        path: PathBuf,
    },

    /// The header declares a version other than 2 or 3.
    #[error("{}: unsupported GGUF version {version} (supported: 2 and 3){}", .path.display(),
        if (1..=3).contains(&.version.swap_bytes()) { "; the file may be big-endian, which is not supported" } else { "" })]
    UnsupportedVersion {
        /// File path.
        path: PathBuf,
        /// Version number as read (little-endian).
        version: u32,
    },

    /// The file ends before the metadata section does.
    #[error("{}: file is truncated: unexpected end of file at byte {offset} while reading {what}", .path.display())]
    Truncated {
        /// File path.
        path: PathBuf,
        /// Offset where the missing data should have started.
        offset: u64,
        /// What was being read.
        what: String,
    },

    /// A length or count field is larger than any sane file would use.
    #[error("{}: {what} at byte {offset} is {value}, above the limit of {limit}; the file is corrupt", .path.display())]
    TooLarge {
        /// File path.
        path: PathBuf,
        /// Offset of the length field.
        offset: u64,
        /// Which length or count.
        what: String,
        /// The value read.
        value: u64,
        /// The limit it exceeds.
        limit: u64,
    },

    /// A structurally invalid field (unknown type tag, bad UTF-8, duplicate key, ...).
    #[error("{}: invalid {what} at byte {offset}: {detail}", .path.display())]
    Invalid {
        /// File path.
        path: PathBuf,
        /// Offset of the field.
        offset: u64,
        /// What was being read.
        what: String,
        /// What is wrong with it.
        detail: String,
    },

    /// A metadata key needed to build the tokenizer is absent.
    #[error("{}: missing metadata key `{key}`", .path.display())]
    MissingKey {
        /// File path.
        path: PathBuf,
        /// The key.
        key: String,
    },

    /// A metadata key has a different type than expected.
    #[error("{}: metadata key `{key}` has type {found}, expected {expected}", .path.display())]
    WrongType {
        /// File path.
        path: PathBuf,
        /// The key.
        key: String,
        /// The expected type.
        expected: String,
        /// The type found.
        found: String,
    },

    /// `tokenizer.ggml.model` names a tokenizer family this crate cannot build.
    #[error("{}: tokenizer.ggml.model = \"{model}\"{} is not supported yet; only \"gpt2\" (byte-level BPE) is",
        .path.display(), model_family(.model))]
    UnsupportedTokenizerModel {
        /// File path.
        path: PathBuf,
        /// The `tokenizer.ggml.model` value.
        model: String,
    },

    /// `tokenizer.ggml.pre` names a pre-tokenizer this crate does not reproduce.
    #[error("{}: pre-tokenizer type tokenizer.ggml.pre = \"{pre}\" is not supported; supported values: {}",
        .path.display(), crate::tokenizer::supported_pre_list())]
    UnsupportedPreTokenizer {
        /// File path.
        path: PathBuf,
        /// The `tokenizer.ggml.pre` value.
        pre: String,
    },

    /// The vocabulary is inconsistent (bad merges, mismatched array lengths, ...).
    #[error("{}: cannot build tokenizer: {message}", .path.display())]
    Tokenizer {
        /// File path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Human name of a llama.cpp tokenizer model family, for error messages.
fn model_family(model: &str) -> &'static str {
    match model {
        "llama" => " (SentencePiece)",
        "bert" => " (WordPiece)",
        "t5" => " (Unigram)",
        "rwkv" => " (RWKV)",
        "plamo2" => " (PLaMo-2)",
        "no_vocab" | "none" => " (no vocabulary)",
        _ => "",
    }
}
