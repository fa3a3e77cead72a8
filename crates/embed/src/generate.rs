//! The generation loop over any [`LanguageModel`]: prompt ids in, watermarked (or plain)
//! answer ids out, one [`Embedder::next_token`] per step.
//!
//! The loop knows nothing about text or engines: llama.cpp models, n-gram students and any
//! other [`LanguageModel`] generate through it, so an answer depends only on the model's
//! logits, the key and the sampler seed.

use serde::{Deserialize, Serialize};
use tracemark_model::{LanguageModel, ModelError};

use crate::Embedder;

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model emitted an end-of-generation token (not included in the output).
    /// (`EndOfGeneration` is also read: early demo caches wrote the Debug form.)
    #[serde(alias = "EndOfGeneration")]
    EndOfGeneration,
    /// `max_tokens` were generated.
    #[serde(alias = "MaxTokens")]
    MaxTokens,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// Generated token ids, without the end-of-generation token.
    pub ids: Vec<u32>,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Generates up to `max_tokens` after `prompt_ids`, choosing every token with `embedder`
/// (which watermarks, or not, and samples). `on_token` sees each token as it is chosen.
pub fn generate(
    model: &mut dyn LanguageModel,
    embedder: &mut Embedder,
    prompt_ids: &[u32],
    max_tokens: usize,
    on_token: impl FnMut(u32),
) -> Result<Generation, ModelError> {
    generate_observed(model, embedder, prompt_ids, max_tokens, on_token, None)
}

/// The model's own opinion of each generated token: called with the unmodified logits of
/// the step (before any watermark bias) and the token chosen, for every token kept.
pub type Observer<'a> = &'a mut dyn FnMut(&[f32], u32);

/// [`generate`], also showing each step's unmodified logits to `observe`, e.g. to measure
/// the likelihood of the answer under the unwatermarked model without a second pass.
pub fn generate_observed(
    model: &mut dyn LanguageModel,
    embedder: &mut Embedder,
    prompt_ids: &[u32],
    max_tokens: usize,
    mut on_token: impl FnMut(u32),
    mut observe: Option<Observer<'_>>,
) -> Result<Generation, ModelError> {
    model.ensure_fits(prompt_ids.len(), max_tokens)?;
    let mut context = prompt_ids.to_vec();
    let mut logits = model.start(prompt_ids)?.to_vec();
    let mut raw = Vec::new();
    let mut ids = Vec::new();
    while ids.len() < max_tokens {
        if observe.is_some() {
            raw.clone_from(&logits);
        }
        let next = embedder.next_token(&context, &mut logits);
        if model.is_eog(next) {
            return Ok(Generation {
                ids,
                stop: StopReason::EndOfGeneration,
            });
        }
        if let Some(observe) = observe.as_deref_mut() {
            observe(&raw, next);
        }
        on_token(next);
        ids.push(next);
        context.push(next);
        if ids.len() < max_tokens {
            logits.copy_from_slice(model.step(next)?);
        }
    }
    Ok(Generation {
        ids,
        stop: StopReason::MaxTokens,
    })
}
