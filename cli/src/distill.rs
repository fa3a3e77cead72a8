//! `tracemark distill` and `tracemark generate --student`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tracemark_embed::Embedder;
use tracemark_io::students::{check_student_tokenizer, load_student, save_student, train_student};
use tracemark_io::{IoError, Source, TextTokenizer};
use tracemark_runtime::{BatchOutput, Generation, LanguageModel, Record};
use tracemark_student::KneserNey;

use crate::args::{DistillArgs, GenerateArgs};

fn tokenizer(path: Option<&Path>) -> Result<TextTokenizer> {
    Ok(match path {
        Some(p) => TextTokenizer::load(p)?,
        None => TextTokenizer::default_model()?,
    })
}

pub fn run(a: &DistillArgs) -> Result<()> {
    let orders = tracemark_student::MIN_ORDER..=tracemark_student::MAX_ORDER;
    if !orders.contains(&a.order) {
        bail!(
            "--order {}: use an n-gram order from {} to {}",
            a.order,
            orders.start(),
            orders.end()
        );
    }
    // Fail before reading a large corpus, not after (the write itself checks again).
    if !a.force && a.out.exists() {
        return Err(IoError::Exists(a.out.clone()).into());
    }
    let tokenizer = tokenizer(a.tokenizer.as_deref())?;
    let source = Source::parse(&a.train);
    let bar = if a.json {
        ProgressBar::hidden()
    } else {
        let total = match &source {
            Source::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            Source::Stdin => 0,
        };
        ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} read  {bytes_per_sec}  eta {eta}",
            )
            .expect("valid template"),
        )
    };
    let started = Instant::now();
    let student = train_student(&tokenizer, &source, a.order, |bytes| {
        bar.set_position(bytes)
    });
    bar.finish_and_clear();
    let student = student?;
    let seconds = started.elapsed().as_secs_f64();
    let size = save_student(&a.out, &student, a.force)?;
    let ngrams = student.ngram_counts();
    if a.json {
        let v = json!({
            "out": a.out.display().to_string(),
            "bytes": size,
            "records": student.sequences(),
            "tokens": student.training_tokens(),
            "order": student.order(),
            "ngrams": ngrams,
            "discounts": student.discounts(),
            "vocab_size": student.vocab_size(),
            "tokenizer": tokenizer.name(),
            "model": student.describe(),
            "seconds": seconds,
        });
        println!("{v}");
    } else {
        println!("wrote {} ({size} bytes)", a.out.display());
        println!("model      {}", student.describe());
        println!(
            "records    {}  tokens {}  in {seconds:.2} s",
            student.sequences(),
            student.training_tokens()
        );
        let per_order: Vec<String> = ngrams
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{}-grams {n}", i + 1))
            .collect();
        println!("distinct   {}", per_order.join("  "));
        println!("tokenizer  {}", tokenizer.name());
    }
    Ok(())
}

/// Answers `prompt` with the student as it was trained to: the prompt's ids, the separator,
/// then tokens until the end-of-answer token. `on_text` sees the answer as it grows.
fn answer(
    student: &mut KneserNey,
    tokenizer: &TextTokenizer,
    embedder: &mut Embedder,
    prompt: &str,
    max_tokens: usize,
    mut on_text: impl FnMut(&str),
) -> Result<(Generation, String)> {
    let prompt_ids = student.chat_prompt(&tokenizer.encode_ids(prompt)?);
    let (mut ids, mut shown) = (Vec::new(), 0);
    let generation =
        tracemark_runtime::generate(student, embedder, &prompt_ids, max_tokens, |id| {
            ids.push(id);
            let text = tokenizer.decode(&ids);
            if !text.ends_with('\u{FFFD}') && text.len() > shown && text.is_char_boundary(shown) {
                on_text(&text[shown..]);
                shown = text.len();
            }
        })?;
    let text = tokenizer.decode(&generation.ids);
    if text.len() > shown && text.is_char_boundary(shown) {
        on_text(&text[shown..]);
    }
    Ok((generation, text))
}

pub fn generate(a: &GenerateArgs) -> Result<()> {
    let path = a.student.as_deref().context("no --student")?;
    let (prompts, key, params) = crate::generate::inputs(a)?;
    let tokenizer = tokenizer(a.tokenizer.as_deref())?;
    let mut student = load_student(path)?;
    check_student_tokenizer(path, &student, &tokenizer)?;
    let model_id = student.describe();
    let record = |index: usize, prompt: &str, generation: Generation, text: String| Record {
        index,
        prompt: prompt.to_string(),
        response: text,
        token_ids: generation.ids,
        stop: serde_json::to_value(generation.stop)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        key_id: key.as_ref().map(|k| k.id().to_string()),
        scheme: key.as_ref().map(|k| k.config().describe()),
        model: model_id.clone(),
        sampling: json!({ "temperature": a.temperature, "top_k": a.top_k, "top_p": a.top_p, "seed": a.seed, "max_tokens": a.max_tokens }),
    };
    if let (Some(prompts), Some(out_path)) = (prompts, &a.out) {
        let mut out = BatchOutput::open(out_path)?;
        let bar = ProgressBar::new(prompts.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} prompts  eta {eta}")
                .expect("valid template"),
        );
        for (index, prompt) in prompts.iter().enumerate() {
            if !out.is_done(index, prompt) {
                // Per-prompt seeds, as for GGUF models: a resumed run writes what a full run would.
                let params = params.with_seed(a.seed.wrapping_add(index as u64));
                let mut embedder = Embedder::new(key.as_ref(), params);
                let (generation, text) = answer(
                    &mut student,
                    &tokenizer,
                    &mut embedder,
                    prompt,
                    a.max_tokens,
                    |_| {},
                )?;
                out.append(&record(index, prompt, generation, text), out_path)?;
            }
            bar.inc(1);
        }
        bar.finish();
        eprintln!("wrote {}", out_path.display());
        return Ok(());
    }
    let prompt = a.prompt.as_deref().unwrap_or_default();
    let mut embedder = Embedder::new(key.as_ref(), params);
    let mut stdout = std::io::stdout().lock();
    let stream = !a.json;
    let (generation, text) = answer(
        &mut student,
        &tokenizer,
        &mut embedder,
        prompt,
        a.max_tokens,
        |piece| {
            if stream {
                let _ = stdout.write_all(piece.as_bytes());
                let _ = stdout.flush();
            }
        },
    )?;
    if a.json {
        let line = serde_json::to_string(&record(0, prompt, generation, text))?;
        writeln!(stdout, "{line}")?;
    } else {
        writeln!(stdout)?;
    }
    Ok(())
}
