//! `tracemark distill`: an n-gram student from harvested answers.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::json;
use tracemark_io::{IoError, Source, TextTokenizer};
use tracemark_student::LanguageModel;
use tracemark_student::files::{save_student, train_student};
use tracemark_workflow::{Bars, Progress};

use crate::args::DistillArgs;
use crate::out::outln;

pub fn run(a: &DistillArgs) -> Result<ExitCode> {
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
    let tokenizer = TextTokenizer::load_or_default(a.tokenizer.as_deref())?;
    let source = Source::parse(&a.train);
    let bars = Bars::new(a.json);
    bars.start(source.size().unwrap_or(0), "bytes");
    let started = Instant::now();
    let mut last = 0;
    let student = train_student(&tokenizer, &source, a.order, |bytes| {
        bars.inc(bytes - last);
        last = bytes;
    });
    bars.finish();
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
        outln!("{v}")?;
    } else {
        outln!("wrote {} ({size} bytes)", a.out.display())?;
        outln!("model      {}", student.describe())?;
        outln!(
            "records    {}  tokens {}  in {seconds:.2} s",
            student.sequences(),
            student.training_tokens()
        )?;
        let per_order: Vec<String> = ngrams
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{}-grams {n}", i + 1))
            .collect();
        outln!("distinct   {}", per_order.join("  "))?;
        outln!("tokenizer  {}", tokenizer.name())?;
    }
    Ok(ExitCode::SUCCESS)
}
