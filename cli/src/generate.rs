//! `tracemark generate` and `tracemark model`.

use std::io::Write;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_runtime::{BatchOutput, Chat, LanguageModel, LlamaModel, LoadOptions, Record};

use crate::args::{GenerateArgs, ModelCommand};

/// What every `generate` run reads first, whatever the model: the batch prompts (if any),
/// the key (if any) and the sampling settings.
pub(crate) fn inputs(
    a: &GenerateArgs,
) -> Result<(
    Option<Vec<String>>,
    Option<tracemark_core::Key>,
    SamplingParams,
)> {
    if a.prompt.as_deref().is_some_and(|p| p.trim().is_empty()) {
        bail!("--prompt is empty");
    }
    let prompts = a
        .prompts
        .as_deref()
        .map(tracemark_runtime::read_prompts)
        .transpose()?;
    let key = a.key.as_deref().map(tracemark_io::read_key).transpose()?;
    let params = SamplingParams::new(a.temperature, a.top_k, a.top_p, a.seed)?;
    Ok((prompts, key, params))
}

pub fn run(a: &GenerateArgs) -> Result<()> {
    let (prompts, key, params) = inputs(a)?;
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
    let record = |index: usize, prompt: &str, answer: &tracemark_runtime::Answer| Record {
        index,
        prompt: prompt.to_string(),
        response: answer.text.clone(),
        token_ids: answer.generation.ids.clone(),
        stop: serde_json::to_value(answer.generation.stop)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        key_id: key.as_ref().map(|k| k.id().to_string()),
        scheme: key.as_ref().map(|k| k.config().describe()),
        model: model_id.clone(),
        sampling: json!({ "temperature": a.temperature, "top_k": a.top_k, "top_p": a.top_p, "seed": a.seed.wrapping_add(index as u64), "max_tokens": a.max_tokens }),
    };
    if let (Some(prompts), Some(out_path)) = (prompts, &a.out) {
        let mut out = BatchOutput::open(out_path)?;
        let bar = ProgressBar::new(prompts.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} prompts  {msg}  eta {eta}")
                .expect("valid template"),
        );
        let (mut tokens, started) = (0usize, std::time::Instant::now());
        for (index, prompt) in prompts.iter().enumerate() {
            if out.is_done(index, prompt) {
                bar.inc(1);
                continue;
            }
            // Each prompt gets its own sampler seed, so a resumed run writes what a full run would.
            let params = params.with_seed(a.seed.wrapping_add(index as u64));
            let mut embedder = Embedder::new(key.as_ref(), params);
            let answer = chat.answer(&mut embedder, prompt, a.max_tokens, |_| {})?;
            out.append(&record(index, prompt, &answer), out_path)?;
            tokens += answer.generation.ids.len();
            bar.set_message(format!(
                "{:.1} tokens/s",
                tokens as f64 / started.elapsed().as_secs_f64()
            ));
            bar.inc(1);
        }
        bar.finish();
        eprintln!("wrote {}", out_path.display());
        return Ok(());
    }
    let prompt = a.prompt.as_deref().unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    let stream = !a.json;
    let answer = chat.answer(&mut embedder, prompt, a.max_tokens, |piece| {
        if stream {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
    })?;
    if a.json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string(&record(0, prompt, &answer))?
        )?;
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
