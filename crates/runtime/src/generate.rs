//! The generation loop: prompt → chat template → tokens → decode steps through the embedder.

use tracemark_embed::Embedder;

use crate::{LanguageModel, RuntimeError};

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model emitted an end-of-generation token (not included in the output).
    EndOfGeneration,
    /// `max_tokens` were generated.
    MaxTokens,
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq)]
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
) -> Result<Generation, RuntimeError> {
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
) -> Result<Generation, RuntimeError> {
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

/// A finished chat answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The rendered prompt's token ids (chat template applied).
    pub prompt_ids: Vec<u32>,
    /// The answer's text.
    pub text: String,
    /// The generation.
    pub generation: Generation,
}

/// A model with its chat template and a text decoder: answers prompts the way the model was
/// trained to, through any [`Embedder`].
pub struct Chat {
    model: crate::LlamaModel,
    template: crate::ChatTemplate,
    decoder: tokenizers::Tokenizer,
    system: Option<String>,
}

impl Chat {
    /// Wraps a loaded model; `system` overrides the template's default system prompt.
    pub fn new(model: crate::LlamaModel, system: Option<String>) -> Result<Self, RuntimeError> {
        let meta = tracemark_gguf::GgufMetadata::read(model.path())?;
        let template = crate::ChatTemplate::new(meta.get_str("tokenizer.chat_template"))?;
        let decoder = tracemark_gguf::tokenizer_from_gguf(&meta)?;
        Ok(Self {
            model,
            template,
            decoder,
            system,
        })
    }

    /// The model.
    pub fn model(&mut self) -> &mut crate::LlamaModel {
        &mut self.model
    }

    /// The token ids the model sees for `prompt`: the chat template applied, then tokenized.
    pub fn prompt_ids(&self, prompt: &str) -> Result<Vec<u32>, RuntimeError> {
        let rendered = self.template.render(self.system.as_deref(), prompt)?;
        self.model.tokenize(&rendered, true)
    }

    /// Answers `prompt`. `on_text` receives the answer's text as it grows, in pieces that
    /// never split a character.
    pub fn answer(
        &mut self,
        embedder: &mut Embedder,
        prompt: &str,
        max_tokens: usize,
        on_text: impl FnMut(&str),
    ) -> Result<Answer, RuntimeError> {
        self.answer_observed(embedder, prompt, max_tokens, on_text, None)
    }

    /// [`answer`](Self::answer), showing each step's unmodified logits to `observe` (see
    /// [`generate_observed`]).
    pub fn answer_observed(
        &mut self,
        embedder: &mut Embedder,
        prompt: &str,
        max_tokens: usize,
        mut on_text: impl FnMut(&str),
        observe: Option<Observer<'_>>,
    ) -> Result<Answer, RuntimeError> {
        let prompt_ids = self.prompt_ids(prompt)?;
        let mut ids = Vec::new();
        let mut shown = 0;
        let decoder = &self.decoder;
        let on_token = |id| {
            ids.push(id);
            let text = decoder.decode(&ids, false).unwrap_or_default();
            if !text.ends_with('\u{FFFD}') && text.len() > shown && text.is_char_boundary(shown) {
                on_text(&text[shown..]);
                shown = text.len();
            }
        };
        let generation = generate_observed(
            &mut self.model,
            embedder,
            &prompt_ids,
            max_tokens,
            on_token,
            observe,
        )?;
        let text = self
            .decoder
            .decode(&generation.ids, false)
            .map_err(|e| RuntimeError::Tokenize(e.to_string()))?;
        if text.len() > shown && text.is_char_boundary(shown) {
            on_text(&text[shown..]);
        }
        Ok(Answer {
            prompt_ids,
            text,
            generation,
        })
    }
}
