//! Opening a model to serve: several sequences at once ([`BatchedModel`]), with the
//! tokenizer and prompt format it answers in, exactly as `generate` opens it.

use std::path::Path;

use tracemark_io::TextTokenizer;
use tracemark_model::{BatchedModel, LanguageModel, PerSlot};
use tracemark_student::files::{check_student_tokenizer, load_student};

use crate::chat::PromptFormat;
use crate::models::{GgufOptions, model_or_default};
use crate::{Progress, WorkflowError};

/// A model ready to serve concurrent requests.
pub struct ServedModel {
    /// The model, one slot per concurrent request.
    pub model: Box<dyn BatchedModel>,
    /// Its vocabulary.
    pub tokenizer: TextTokenizer,
    /// How a conversation becomes its prompt.
    pub format: PromptFormat,
    /// The id clients see (`/v1/models`, the responses' `model`): the file's stem.
    pub id: String,
    /// The one-line description records store, as `generate` writes it.
    pub description: String,
}

impl std::fmt::Debug for ServedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedModel")
            .field("id", &self.id)
            .field("slots", &self.model.slots())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
}

/// A GGUF model (`path`, else the default model) with `slots` sequences of `n_ctx` tokens
/// each, answering through its chat template as [`crate::models::gguf_chat`] does.
pub fn gguf_served(
    path: Option<&Path>,
    options: &GgufOptions,
    slots: usize,
    n_ctx: u32,
    progress: &dyn Progress,
) -> Result<ServedModel, WorkflowError> {
    if !crate::HAS_LLAMA {
        return Err(crate::models::no_llama(path));
    }
    let path = &model_or_default(path, progress)?;
    let model = load_batched(path, options, slots, n_ctx)?;
    let meta = tracemark_gguf::GgufMetadata::read(path).map_err(tracemark_io::IoError::Model)?;
    let template = Box::new(crate::ChatTemplate::new(
        meta.get_str("tokenizer.chat_template"),
    )?);
    let description = model.describe();
    Ok(ServedModel {
        model,
        tokenizer: TextTokenizer::load(path)?,
        format: PromptFormat::Template {
            template,
            system: None,
        },
        id: file_stem(path),
        description,
    })
}

/// A student with `slots` copies, one per concurrent request; `tokenizer` must be the one
/// it was distilled with.
pub fn student_served(
    path: &Path,
    tokenizer: TextTokenizer,
    slots: usize,
) -> Result<ServedModel, WorkflowError> {
    let first = load_student(path)?;
    check_student_tokenizer(path, &first, &tokenizer)?;
    let separator = first.specials().separator;
    let description = first.describe();
    let mut models: Vec<Box<dyn LanguageModel + Send>> = vec![Box::new(first)];
    for _ in 1..slots.max(1) {
        models.push(Box::new(load_student(path)?));
    }
    Ok(ServedModel {
        model: Box::new(PerSlot::new(models)),
        tokenizer,
        format: PromptFormat::Appended { separator },
        id: file_stem(path),
        description,
    })
}

#[cfg(feature = "llama")]
fn load_batched(
    path: &Path,
    options: &GgufOptions,
    slots: usize,
    n_ctx: u32,
) -> Result<Box<dyn BatchedModel>, WorkflowError> {
    use tracemark_runtime::{LlamaModel, LoadOptions};
    let load = LoadOptions {
        verbose: options.verbose,
        n_threads: options.threads,
        n_ctx,
        sequences: u32::try_from(slots.max(1)).unwrap_or(u32::MAX),
        ..LoadOptions::default()
    };
    Ok(Box::new(LlamaModel::load(path, &load)?))
}

#[cfg(not(feature = "llama"))]
fn load_batched(
    path: &Path,
    _: &GgufOptions,
    _: usize,
    _: u32,
) -> Result<Box<dyn BatchedModel>, WorkflowError> {
    Err(crate::models::no_llama(Some(path)))
}
