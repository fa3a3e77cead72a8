//! `tracemark generate`: answer one prompt (streamed, or as a JSON record) or a batch of
//! prompts into a resumable JSONL file, with a GGUF model or a student.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use tracemark_embed::{Embedder, Record, Sampling, SamplingParams};
use tracemark_io::{Prompts, Source, TextTokenizer};
use tracemark_workflow::models::{gguf_chat, student_chat};
use tracemark_workflow::{Bars, Batch, Chat, GgufOptions, ServedTo, run_batch};

use crate::args::GenerateArgs;
use crate::out::{outln, warn_key_permissions};

pub fn run(a: &GenerateArgs) -> Result<ExitCode> {
    let key = match &a.key {
        Some(path) => {
            let key = tracemark_io::read_key(path)?;
            warn_key_permissions(path);
            Some(key)
        }
        None if a.no_watermark || a.student.is_some() => None,
        None => bail!(
            "generate needs --key KEY to watermark the answers, or --no-watermark for plain ones"
        ),
    };
    if let Some(account) = &a.account {
        if account.is_empty() {
            bail!("--account is empty");
        }
        if key.as_ref().is_some_and(|k| k.accounts().is_none()) {
            bail!(
                "--account needs a master key (tracemark keygen --accounts); this key has no account layer"
            );
        }
    }
    if a.prompt.as_deref().is_some_and(|p| p.trim().is_empty()) {
        bail!("--prompt is empty");
    }
    let params = SamplingParams::new(a.temperature, a.top_k, a.top_p, a.seed)?;
    let prompts = match (&a.prompts, &a.prompt) {
        (Some(file), _) => Prompts::read(&Source::File(file.clone()))?.texts().to_vec(),
        (None, prompt) => vec![prompt.clone().unwrap_or_default()],
    };
    let bars = Bars::new(a.json);
    let mut chat = open_chat(a, &bars)?;
    if let Some(out) = &a.out {
        let batch = Batch {
            prompts: &prompts,
            out,
            key: key.as_ref(),
            served_to: match &a.account {
                Some(account) => ServedTo::Account(account),
                None => ServedTo::Nobody,
            },
            params,
            max_tokens: a.max_tokens,
            force: a.force,
            check_model: true,
        };
        let s = run_batch(&mut chat, &batch, &bars)?;
        if a.json {
            let v = serde_json::json!({
                "out": out.display().to_string(),
                "answered": s.answered,
                "resumed": s.resumed,
                "tokens": s.tokens,
                "seconds": s.seconds,
            });
            outln!("{v}")?;
        } else if s.answered == 0 {
            outln!(
                "{}: all {} prompts already answered",
                out.display(),
                s.resumed
            )?;
        } else {
            outln!(
                "wrote {} answers to {} ({} already there), {} tokens at {:.1} tokens/s",
                s.answered,
                out.display(),
                s.resumed,
                s.tokens,
                s.tokens as f64 / s.seconds
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // One prompt to standard output: streamed as it is written, or one JSON record.
    let prompt = &prompts[0];
    let mut embedder = Embedder::new(key.as_ref(), params);
    if let Some(account) = &a.account {
        embedder = embedder.with_account(account)?;
    }
    let mut written = Ok(());
    let answer = chat.answer(&mut embedder, prompt, a.max_tokens, |piece| {
        if !a.json && written.is_ok() {
            let mut stdout = std::io::stdout().lock();
            written = stdout
                .write_all(piece.as_bytes())
                .and_then(|()| stdout.flush());
        }
    })?;
    written?;
    if a.json {
        let record = Record::new(
            0,
            prompt,
            answer.text,
            answer.generation,
            key.as_ref(),
            a.account.as_deref(),
            chat.describe(),
            Sampling::new(&params, a.max_tokens),
        );
        outln!("{}", serde_json::to_string(&record)?)?;
    } else {
        outln!()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The student, or the GGUF model (the default one unless --model).
fn open_chat(a: &GenerateArgs, bars: &Bars) -> Result<Chat> {
    if let Some(path) = &a.student {
        let tokenizer = TextTokenizer::load_or_default(a.tokenizer.as_deref())?;
        return Ok(student_chat(path, tokenizer)?);
    }
    let mut options = GgufOptions {
        verbose: a.verbose,
        ..GgufOptions::default()
    };
    if let Some(threads) = a.threads {
        options.threads = threads;
    }
    Ok(gguf_chat(
        a.model.as_deref(),
        &options,
        a.system.clone(),
        bars,
    )?)
}
