//! Chat templates: render a GGUF's Jinja `tokenizer.chat_template`, so prompts look like
//! the model's training data (including a default system prompt the template may insert).

use minijinja::{Environment, context};
use serde::Serialize;

use crate::WorkflowError;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
}

/// Used when a model has no template: ChatML, as SmolLM and many others use.
const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

impl ChatTemplate {
    /// Compiles `source` (None: plain ChatML).
    pub fn new(source: Option<&str>) -> Result<Self, WorkflowError> {
        let mut env = Environment::new();
        env.add_template_owned("chat", source.unwrap_or(CHATML).to_string())
            .map_err(|e| WorkflowError::Template(e.to_string()))?;
        Ok(Self { env })
    }

    /// The prompt text for a user message, with an optional system message, ending where
    /// the assistant's answer starts.
    pub fn render(&self, system: Option<&str>, user: &str) -> Result<String, WorkflowError> {
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(Message {
                role: "system".into(),
                content: s.into(),
            });
        }
        messages.push(Message {
            role: "user".into(),
            content: user.into(),
        });
        self.render_messages(&messages)
    }

    /// The prompt text for a conversation (system, user and assistant turns), ending where
    /// the assistant's next answer starts.
    pub fn render_messages(&self, messages: &[Message]) -> Result<String, WorkflowError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| WorkflowError::Template(e.to_string()))?;
        template
            .render(context! { messages => messages, add_generation_prompt => true, bos_token => "", eos_token => "" })
            .map_err(|e| WorkflowError::Template(e.to_string()))
    }
}
