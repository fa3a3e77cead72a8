//! Engine-agnostic watermark embedding for tracemark.
//!
//! A provider calls this crate once per decode step from any inference stack: it hands over the
//! logits (`&mut [f32]`, one per vocabulary entry) and the token context (the whole history,
//! prompt plus generated tokens) and gets the next token back. There is no model dependency.
//!
//! # Design decision
//! The embedder is a pure function of (key, context, logits[, sampler RNG]). It keeps no hidden
//! state beyond reusable scratch buffers and the sampler's seeded RNG, so any serving stack
//! (batched, speculative, restarted mid-sequence) can call it, and replaying the same inputs
//! gives the same token. It derives every PRF value through [`tracemark_core::Watermark`] and
//! [`tracemark_core::Seed`], the very functions detection uses, so embedding and detection agree
//! bit for bit on which tuples are green and what their Gumbel scores are.
//!
//! # Schemes
//! - KGW ([`KgwBias`]): add δ to the green logits, then sample normally ([`Sampler`]).
//! - Gumbel ([`gumbel_choose`]): filter with temperature, top-k and top-p, then pick
//!   `argmax ln(u_v) / p_v` over the kept tokens. Distortion-free over keys.
//!
//! [`Embedder`] wraps both behind one call, [`Embedder::next_token`]; [`generate`] runs it
//! over any [`tracemark_model::LanguageModel`], and [`Record`] is the stored form of an answer.
#![deny(missing_docs)]

mod cpu;
mod embedder;
#[allow(unsafe_code)] // SIMD kernels behind runtime CPU-feature detection.
mod fastmath;
mod generate;
mod gumbel;
#[allow(unsafe_code)] // AVX-512 ChaCha20 behind runtime CPU-feature detection.
mod keystream;
mod kgw;
mod record;
mod sampling;
#[allow(unsafe_code)] // AVX-512 chunk skipping behind runtime CPU-feature detection.
mod topk;

pub use embedder::Embedder;
pub use generate::{Decoding, Generation, Next, Observer, StopReason, generate, generate_observed};
pub use gumbel::gumbel_choose;
pub use kgw::{BiasStats, DEFAULT_SELFHASH_CANDIDATES, KgwBias, apply_kgw_bias};
pub use record::{Record, Sampling};
pub use sampling::{Sampler, SamplingParams, argmax, filtered_distribution};

/// Errors from validating embedding parameters. Messages are one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmbedError {
    /// A sampling parameter is out of range.
    #[error("invalid sampling parameter: {0}")]
    InvalidSampling(String),
    /// An account was given with a key that has no account layer.
    #[error("{0}")]
    NotAMasterKey(String),
}
