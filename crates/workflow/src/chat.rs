//! [`Chat`]: any [`LanguageModel`] with the tokenizer and prompt format it was trained with,
//! answering text prompts through an [`Embedder`] (watermarked or not).
//!
//! A GGUF model's prompt is its chat template (or ChatML) rendered and tokenized with the
//! model's own vocabulary, special tokens included; a student's is the prompt's ids followed
//! by its separator token, as it was trained. Either way the answer comes from the one
//! generation loop, [`tracemark_embed::generate`].

use tracemark_embed::{Embedder, Generation, Observer, generate_observed};
use tracemark_io::TextTokenizer;
use tracemark_model::LanguageModel;

use crate::WorkflowError;
use crate::template::{ChatTemplate, Message};

/// How a model's prompt is made from the user's text.
#[derive(Debug)]
pub enum PromptFormat {
    /// A chat template rendered with an optional system message, then tokenized with
    /// special-token texts (`<|im_start|>`) as their ids.
    Template {
        /// The compiled template.
        template: Box<ChatTemplate>,
        /// Replaces the template's default system prompt.
        system: Option<String>,
    },
    /// The prompt's ids followed by one separator token (a student's training format).
    Appended {
        /// The separator.
        separator: u32,
    },
}

impl PromptFormat {
    /// The token ids a model in this format sees for the user's `prompt`.
    pub fn prompt_ids(
        &self,
        tokenizer: &TextTokenizer,
        prompt: &str,
    ) -> Result<Vec<u32>, WorkflowError> {
        Ok(match self {
            PromptFormat::Template { template, system } => {
                let rendered = template.render(system.as_deref(), prompt)?;
                tokenizer.encode_ids(&rendered)?
            }
            PromptFormat::Appended { separator } => {
                let mut ids = tokenizer.encode_ids(prompt)?;
                ids.push(*separator);
                ids
            }
        })
    }

    /// The token ids for a conversation. A template renders every turn (a system message
    /// replaces the format's own); a student, trained on single prompts, takes one user
    /// message only.
    pub fn conversation_ids(
        &self,
        tokenizer: &TextTokenizer,
        messages: &[Message],
    ) -> Result<Vec<u32>, WorkflowError> {
        match self {
            PromptFormat::Template { template, system } => {
                let mut turns = Vec::with_capacity(messages.len() + 1);
                if let Some(s) = system.as_ref().filter(|_| messages.iter().all(|m| m.role != "system")) {
                    turns.push(Message {
                        role: "system".into(),
                        content: s.clone(),
                    });
                }
                turns.extend_from_slice(messages);
                Ok(tokenizer.encode_ids(&template.render_messages(&turns)?)?)
            }
            PromptFormat::Appended { .. } => match messages {
                [m] if m.role == "user" => self.prompt_ids(tokenizer, &m.content),
                _ => Err(WorkflowError::Invalid(
                    "this model (a distilled student) answers one user message, without system or earlier turns".into(),
                )),
            },
        }
    }
}

/// A finished chat answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The prompt's token ids, as the model saw them.
    pub prompt_ids: Vec<u32>,
    /// The answer's text: complete characters only (see [`Chat::answer`]).
    pub text: String,
    /// The generation.
    pub generation: Generation,
}

/// A model that answers text prompts.
pub struct Chat {
    model: Box<dyn LanguageModel + Send>,
    tokenizer: TextTokenizer,
    format: PromptFormat,
}

impl std::fmt::Debug for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chat")
            .field("model", &self.model.describe())
            .field("tokenizer", &self.tokenizer.name())
            .field("format", &self.format)
            .finish()
    }
}

impl Chat {
    /// A chat over `model`, whose vocabulary is `tokenizer`'s.
    pub fn new(
        model: Box<dyn LanguageModel + Send>,
        tokenizer: TextTokenizer,
        format: PromptFormat,
    ) -> Self {
        Self {
            model,
            tokenizer,
            format,
        }
    }

    /// The model.
    pub fn model(&mut self) -> &mut dyn LanguageModel {
        self.model.as_mut()
    }

    /// The model, given back.
    pub fn into_model(self) -> Box<dyn LanguageModel + Send> {
        self.model
    }

    /// The tokenizer of the model's vocabulary.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The model's one-line description, as records store it.
    pub fn describe(&self) -> String {
        self.model.describe()
    }

    /// The token ids the model sees for `prompt`.
    pub fn prompt_ids(&self, prompt: &str) -> Result<Vec<u32>, WorkflowError> {
        self.format.prompt_ids(&self.tokenizer, prompt)
    }

    /// Answers `prompt` with up to `max_tokens` tokens. `on_text` receives the answer's text
    /// as it grows, in pieces that never split a character.
    ///
    /// When the token limit cuts a character in two (an emoji spread over several byte-level
    /// tokens), the text ends before it: [`Answer::text`] holds complete characters only,
    /// while [`Generation::ids`] keeps every generated token.
    pub fn answer(
        &mut self,
        embedder: &mut Embedder,
        prompt: &str,
        max_tokens: usize,
        on_text: impl FnMut(&str),
    ) -> Result<Answer, WorkflowError> {
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
    ) -> Result<Answer, WorkflowError> {
        let prompt_ids = self.prompt_ids(prompt)?;
        let mut ids = Vec::new();
        let mut shown = 0;
        let tokenizer = &self.tokenizer;
        let on_token = |id| {
            ids.push(id);
            let text = tokenizer.decode(&ids);
            if !text.ends_with('\u{FFFD}') && text.len() > shown && text.is_char_boundary(shown) {
                on_text(&text[shown..]);
                shown = text.len();
            }
        };
        let generation = generate_observed(
            self.model.as_mut(),
            embedder,
            &prompt_ids,
            max_tokens,
            on_token,
            observe,
        )?;
        let text = complete_text(&self.tokenizer, &generation.ids);
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

/// The text of `ids` without a character cut off at the end: while the text ends in U+FFFD,
/// up to three trailing tokens (a UTF-8 character is at most four bytes) are left out if
/// that removes the replacement character.
pub fn complete_text(tokenizer: &TextTokenizer, ids: &[u32]) -> String {
    let text = tokenizer.decode(ids);
    if !text.ends_with('\u{FFFD}') {
        return text;
    }
    for cut in 1..=3.min(ids.len()) {
        let shorter = tokenizer.decode(&ids[..ids.len() - cut]);
        if !shorter.ends_with('\u{FFFD}') && text.starts_with(&shorter) {
            return shorter;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_cut_by_the_token_limit_is_left_out() {
        let tok = TextTokenizer::default_model().unwrap();
        let ids = tok.encode_ids("Done 👍").unwrap();
        assert_eq!(complete_text(&tok, &ids), "Done 👍");
        // The thumbs-up is several byte-level tokens; cut after the first of them.
        let emoji = tok.encode_ids(" 👍").unwrap();
        assert!(emoji.len() > 1, "{emoji:?}");
        let cut = &ids[..ids.len() - emoji.len() + 1];
        assert!(tok.decode(cut).ends_with('\u{FFFD}'));
        assert_eq!(complete_text(&tok, cut), "Done");
    }
}
