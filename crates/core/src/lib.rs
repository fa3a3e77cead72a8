//! The tracemark core: keys, the keyed PRF and watermark schemes, with no I/O.
//!
//! The pipeline is key → keyed PRF → scheme. Embedding (`tracemark-embed`) and detection
//! (`tracemark-detect`) both call [`Watermark`], so they agree bit for bit.
//!
//! # Why HMAC-SHA256 → ChaCha20 with random access
//! - HMAC-SHA256 turns (secret, scheme, context ids) into a 32-byte seed. It is a standard PRF,
//!   so the green lists of distinct contexts are computationally independent, and the key
//!   cannot be recovered from them. The message layout is in [`prf`].
//! - The seed keys ChaCha20, whose word `token` is that token's PRF value. Embedding needs a
//!   value for every vocabulary entry and reads the stream sequentially (about 3,000 blocks for
//!   a 49k vocabulary); detection needs one token and seeks to its block. Both read the same
//!   word, so there is no "generation view" and "detection view" to keep in sync.
//!
//! # Why a token is green when u < γ, not by permuting the vocabulary
//! Kirchenbauer et al. take the first ⌊γV⌋ entries of a keyed permutation. That makes the
//! colours of tokens within one context dependent (exactly ⌊γV⌋ are green) and costs a
//! V-long shuffle per context. Thresholding an independent uniform per token makes every
//! distinct (context, token) tuple an independent Bernoulli(γ) under H0, which is exactly what
//! the binomial test assumes, and detection costs one block per token. The green-list size
//! then varies around γV by about √(γ(1−γ)V) ≈ 96 tokens at V = 49,152, which is harmless.
//!
//! [`Gamma`] stores the 32-bit threshold, so the statistics use the exact green probability.
#![deny(missing_docs)]

pub mod account;
mod key;
mod params;
pub mod prf;
mod watermark;

pub use account::{AccountCode, AccountLayer};
pub use key::{KEY_FORMAT, KEY_VERSION, Key, KeyId};
pub use params::{
    ContextWidth, Delta, Gamma, MAX_CONTEXT, Scheme, SchemeKind, Seeding, SeedingKind,
    WatermarkConfig,
};
pub use prf::{Prf, Seed};
pub use watermark::{PrfInput, TokenScore, Watermark};

/// A token id in the tokenizer's vocabulary.
pub type TokenId = u32;

/// Errors from building keys and parameters. Messages are one line and never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A scheme parameter is out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A key file could not be parsed or validated.
    #[error("invalid key file: {0}")]
    KeyFile(String),
    /// The operating system's random number generator failed.
    #[error("{0}")]
    Rng(String),
}
