//! `tracemark serve`: open the model, print the bound address, serve until SIGTERM.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use tracemark_io::TextTokenizer;
use tracemark_serve::{ServeConfig, serve};
use tracemark_workflow::serving::{gguf_served, student_served};
use tracemark_workflow::{Bars, GgufOptions};

use crate::args::ServeArgs;
use crate::out::warn_key_permissions;

pub fn run(a: &ServeArgs) -> Result<ExitCode> {
    if a.slots == 0 {
        bail!("--slots must be at least 1");
    }
    if a.ledger.is_none() && !a.listen.ip().is_loopback() {
        bail!(
            "without --ledger the server asks for no API key, so it listens on loopback only, not {}",
            a.listen
        );
    }
    let key = match &a.key {
        Some(path) => {
            let key = tracemark_io::read_key(path)?;
            warn_key_permissions(path);
            Some(key)
        }
        None => None,
    };
    let bars = Bars::new(false);
    let served = match &a.student {
        Some(path) => {
            let tokenizer = TextTokenizer::load_or_default(a.tokenizer.as_deref())?;
            student_served(path, tokenizer, a.slots)?
        }
        None => {
            let mut options = GgufOptions {
                verbose: a.verbose,
                ..GgufOptions::default()
            };
            if let Some(threads) = a.threads {
                options.threads = threads;
            }
            gguf_served(a.model.as_deref(), &options, a.slots, a.ctx, &bars)?
        }
    };
    let watermark = match &key {
        Some(k) if k.accounts().is_some() => {
            format!("master key {} (each answer carries its account)", k.id())
        }
        Some(k) => format!("key {} (no account layer)", k.id()),
        None => "no watermark".into(),
    };
    let auth = match &a.ledger {
        Some(_) => "API keys from the ledger",
        None => "no API key (loopback only)",
    };
    let description = served.description.clone();
    let slots = a.slots;
    let config = ServeConfig {
        listen: a.listen,
        key,
        ledger: a.ledger.clone(),
        queue: a.queue,
        grace: Duration::from_secs(a.grace_seconds),
    };
    serve(config, served, |addr| {
        // The bound address is the first line on stdout, for scripts and tests.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{addr}").and_then(|()| out.flush());
        eprintln!(
            "tracemark serve: {description}, {slots} slots, {watermark}, {auth}; listening on http://{addr}/v1"
        );
    })?;
    eprintln!("tracemark serve: stopped");
    Ok(ExitCode::SUCCESS)
}
