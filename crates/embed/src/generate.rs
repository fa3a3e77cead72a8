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
    /// The caller ended it: a stop sequence matched, or the request was cancelled.
    Stopped,
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
    let mut decoding = Decoding::new(prompt_ids, max_tokens);
    let mut logits = model.start(prompt_ids)?.to_vec();
    let mut raw = Vec::new();
    loop {
        if observe.is_some() {
            raw.clone_from(&logits);
        }
        let next = decoding.advance(embedder, &mut logits, |t| model.is_eog(t));
        if let Some(token) = decoding.last_kept() {
            if let Some(observe) = observe.as_deref_mut() {
                observe(&raw, token);
            }
            on_token(token);
        }
        match next {
            Next::Evaluate(token) => logits.copy_from_slice(model.step(token)?),
            Next::Finished(_) => return Ok(decoding.into_generation()),
        }
    }
}

/// What a [`Decoding`] needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Evaluate this token (just kept) and pass the logits after it to
    /// [`Decoding::advance`].
    Evaluate(u32),
    /// The generation is over.
    Finished(StopReason),
}

/// One generation in progress, advanced one model evaluation at a time: the loop of
/// [`generate`], for a scheduler that evaluates many sequences together. Fed the same
/// logits, it chooses the same tokens as [`generate`].
#[derive(Debug, Clone)]
pub struct Decoding {
    context: Vec<u32>,
    prompt_len: usize,
    max_tokens: usize,
    kept: bool,
    stop: Option<StopReason>,
}

impl Decoding {
    /// A generation of up to `max_tokens` after `prompt_ids`.
    pub fn new(prompt_ids: &[u32], max_tokens: usize) -> Self {
        let mut context = Vec::with_capacity(prompt_ids.len() + max_tokens.min(4096));
        context.extend_from_slice(prompt_ids);
        Self {
            context,
            prompt_len: prompt_ids.len(),
            max_tokens,
            kept: false,
            stop: (max_tokens == 0).then_some(StopReason::MaxTokens),
        }
    }

    /// Chooses the token after the context from the model's `logits` (changed in place by
    /// the watermark) with `embedder`; `is_eog` tells end-of-generation tokens.
    pub fn advance(
        &mut self,
        embedder: &mut Embedder,
        logits: &mut [f32],
        is_eog: impl Fn(u32) -> bool,
    ) -> Next {
        self.kept = false;
        if let Some(stop) = self.stop {
            return Next::Finished(stop);
        }
        let next = embedder.next_token(&self.context, logits);
        if is_eog(next) {
            self.stop = Some(StopReason::EndOfGeneration);
            return Next::Finished(StopReason::EndOfGeneration);
        }
        self.context.push(next);
        self.kept = true;
        if self.ids().len() < self.max_tokens {
            Next::Evaluate(next)
        } else {
            self.stop = Some(StopReason::MaxTokens);
            Next::Finished(StopReason::MaxTokens)
        }
    }

    /// The token the last [`advance`](Self::advance) kept, if it kept one.
    pub fn last_kept(&self) -> Option<u32> {
        self.kept
            .then(|| *self.context.last().expect("a kept token"))
    }

    /// The tokens generated so far.
    pub fn ids(&self) -> &[u32] {
        &self.context[self.prompt_len..]
    }

    /// Ends the generation early (a stop sequence, a cancelled request) as `stop`.
    pub fn finish(&mut self, stop: StopReason) {
        self.stop.get_or_insert(stop);
    }

    /// The finished generation (a generation still running counts as stopped at its limit).
    pub fn into_generation(self) -> Generation {
        Generation {
            ids: self.context[self.prompt_len..].to_vec(),
            stop: self.stop.unwrap_or(StopReason::MaxTokens),
        }
    }
}
