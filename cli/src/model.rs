//! `tracemark model fetch` and `tracemark model info`.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use tracemark_io::models::{DEFAULT_MODEL_SHA256, DEFAULT_MODEL_SIZE, fetch_default_model};
use tracemark_workflow::models::{default_model, model_or_default};
use tracemark_workflow::{Bars, Progress};

use crate::args::ModelCommand;
use crate::out::outln;

pub fn run(c: &ModelCommand) -> Result<ExitCode> {
    match c {
        ModelCommand::Fetch { force, json } => {
            let bars = Bars::new(*json);
            let path = if *force {
                bars.stage("downloading and verifying the default model again ...");
                fetch_default_model(true)?
            } else {
                default_model(&bars)?
            };
            if *json {
                let v = json!({
                    "path": path.display().to_string(),
                    "size": DEFAULT_MODEL_SIZE,
                    "sha256": DEFAULT_MODEL_SHA256,
                });
                outln!("{v}")?;
            } else {
                outln!("{}", path.display())?;
            }
        }
        ModelCommand::Info { model, json } => {
            let path = model_or_default(model.as_deref(), &Bars::new(*json))?;
            let info = tracemark_io::model_info(&path)?;
            if *json {
                let v = json!({
                    "path": info.path.display().to_string(),
                    "architecture": info.architecture,
                    "name": info.name,
                    "vocab_size": info.vocab_size,
                    "file_size": info.file_size,
                    "is_default": info.is_default,
                    "chat_template": info.chat_template,
                });
                outln!("{v}")?;
            } else {
                let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
                outln!("path          {}", info.path.display())?;
                outln!("architecture  {}", unknown(&info.architecture))?;
                outln!("name          {}", unknown(&info.name))?;
                outln!("vocabulary    {}", info.vocab_size)?;
                let default = if info.is_default {
                    " (the pinned default model)"
                } else {
                    ""
                };
                outln!("size          {} bytes{default}", info.file_size)?;
                match &info.chat_template {
                    Some(t) => outln!("chat template\n{t}")?,
                    None => outln!("chat template (none: ChatML is used)")?,
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
