//! `tracemark generate` and `tracemark model`.

use std::io::Write;

use anyhow::{Result, bail};
use serde_json::json;
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_runtime::{Chat, LanguageModel, LlamaModel, LoadOptions};

use crate::args::{GenerateArgs, ModelCommand};

pub fn run(a: &GenerateArgs) -> Result<()> {
    if a.prompt.trim().is_empty() {
        bail!("--prompt is empty");
    }
    let key = a.key.as_deref().map(tracemark_io::read_key).transpose()?;
    let params = SamplingParams::new(a.temperature, a.top_k, a.top_p, a.seed)?;
    let path = match &a.model {
        Some(p) => p.clone(),
        None => tracemark_runtime::default_model_path()?,
    };
    let model = LlamaModel::load(
        &path,
        &LoadOptions {
            verbose: a.verbose,
            ..LoadOptions::default()
        },
    )?;
    let model_id = model.describe();
    let mut chat = Chat::new(model, a.system.clone())?;
    let mut embedder = Embedder::new(key.as_ref(), params);
    let mut stdout = std::io::stdout().lock();
    let stream = !a.json;
    let answer = chat.answer(&mut embedder, &a.prompt, a.max_tokens, |piece| {
        if stream {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
    })?;
    if a.json {
        let record = json!({
            "prompt": a.prompt,
            "response": answer.text,
            "token_ids": answer.generation.ids,
            "stop": answer.generation.stop,
            "key_id": key.as_ref().map(|k| k.id().to_string()),
            "scheme": key.as_ref().map(|k| k.config().describe()),
            "model": model_id,
            "sampling": { "temperature": a.temperature, "top_k": a.top_k, "top_p": a.top_p, "seed": a.seed },
            "max_tokens": a.max_tokens,
        });
        writeln!(stdout, "{record}")?;
    } else {
        writeln!(stdout)?;
    }
    Ok(())
}

pub fn model(c: &ModelCommand) -> Result<()> {
    match c {
        ModelCommand::Fetch { force } => {
            let path = tracemark_runtime::fetch_default_model(*force)?;
            println!("{}", path.display());
        }
        ModelCommand::Info { model, json } => {
            let path = match model {
                Some(p) => p.clone(),
                None => tracemark_runtime::default_model_path()?,
            };
            let info = tracemark_runtime::model_info(&path)?;
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
                println!("{v}");
            } else {
                println!("path          {}", info.path.display());
                println!(
                    "architecture  {}",
                    info.architecture.as_deref().unwrap_or("?")
                );
                println!("name          {}", info.name.as_deref().unwrap_or("?"));
                println!("vocabulary    {}", info.vocab_size);
                println!(
                    "size          {} bytes{}",
                    info.file_size,
                    if info.is_default {
                        " (the pinned default model)"
                    } else {
                        ""
                    }
                );
                match &info.chat_template {
                    Some(t) => println!("chat template\n{t}"),
                    None => println!("chat template (none: ChatML is used)"),
                }
            }
        }
    }
    Ok(())
}
