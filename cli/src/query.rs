//! `tracemark query`: question an OpenAI-compatible endpoint into a resumable corpus, with a
//! progress bar showing requests/s and tokens/s.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tracemark_client::{ApiKey, QueryOptions, QueryProgress, QueryRecord, RetryNote, run_query};
use tracemark_io::{Prompts, Source};
use tracemark_workflow::{Bars, Progress};

use crate::args::QueryArgs;
use crate::out::outln;

/// The client's progress on the workflow's bars.
struct Shown<'a> {
    bars: &'a Bars,
    started: Instant,
    counts: Mutex<(u64, u64)>,
}

impl QueryProgress for Shown<'_> {
    fn start(&self, total: u64) {
        self.bars.start(total, "answers");
    }
    fn done(&self, record: &QueryRecord) {
        let (requests, tokens) = {
            let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            c.0 += 1;
            c.1 += record.usage.completion_tokens;
            *c
        };
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        self.bars.message(&format!(
            "{:.2} requests/s, {:.1} tokens/s",
            requests as f64 / secs,
            tokens as f64 / secs
        ));
        self.bars.inc(1);
    }
    fn retry(&self, note: &RetryNote) {
        self.bars.message(&format!(
            "retrying prompt {} ({}), waiting {:.1} s",
            note.index,
            note.reason,
            note.wait.as_secs_f64()
        ));
    }
    fn finish(&self) {
        self.bars.finish();
    }
}

pub fn run(a: &QueryArgs) -> Result<ExitCode> {
    let api_key = match &a.api_key_env {
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(ApiKey::new(v.trim())),
            _ => bail!("--api-key-env {var}: the environment variable is not set"),
        },
        None => None,
    };
    let prompts = Prompts::read(&Source::File(a.prompts.clone()))?;
    let options = QueryOptions {
        base_url: a.base_url.clone(),
        api_key,
        model: a.model.clone(),
        max_tokens: a.max_tokens,
        temperature: a.temperature,
        top_p: a.top_p,
        seed: a.seed,
        repeats: a.repeats,
        concurrency: a.concurrency,
        max_requests: a.max_requests,
        timeout: Duration::from_secs(a.timeout_seconds),
        max_retries: a.max_retries,
        force: a.force,
    };
    let bars = Bars::new(a.json);
    let shown = Shown {
        bars: &bars,
        started: Instant::now(),
        counts: Mutex::new((0, 0)),
    };
    let s = run_query(&options, &prompts, &a.out, &shown)
        .with_context(|| format!("querying {}", a.base_url))?;
    if a.json {
        let mut v = serde_json::to_value(&s)?;
        v["out"] = a.out.display().to_string().into();
        outln!("{v}")?;
    } else {
        outln!(
            "wrote {} answers to {} ({} already there), {} requests ({} retries), {} tokens at {:.1} tokens/s{}",
            s.answered,
            a.out.display(),
            s.resumed,
            s.requests,
            s.retries,
            s.completion_tokens,
            s.completion_tokens as f64 / s.seconds.max(1e-9),
            if s.budget_exhausted {
                format!(
                    "; the request budget ran out with {} left (rerun to continue)",
                    s.remaining
                )
            } else {
                String::new()
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
