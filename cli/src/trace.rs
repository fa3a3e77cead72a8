//! `tracemark trace`.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use tracemark_io::{Prompts, Source, TextTokenizer, read_accounts};
use tracemark_radioactivity::{ControlOptions, Report, fmt_p};
use tracemark_workflow::investigate::{Examination, Probe};
use tracemark_workflow::ledger::read_account_source;
use tracemark_workflow::models::suspect_model;
use tracemark_workflow::trace::{Tracing, trace};
use tracemark_workflow::trace_reading::{ReadTracing, trace_reading};
use tracemark_workflow::{Bars, GgufOptions};

use crate::args::TraceArgs;
use crate::out::{outln, warn_key_permissions};

pub fn run(a: &TraceArgs) -> Result<ExitCode> {
    if let Some(dir) = &a.report {
        tracemark_report::check_report_dir(dir, a.force)?;
    }
    let key = tracemark_io::read_key(&a.key)?;
    warn_key_permissions(&a.key);
    let accounts = read_account_source(&a.accounts)?;
    let suspected = a.suspected.as_deref().map(read_accounts).transpose()?;
    let tokenizer = TextTokenizer::load_or_default(a.tokenizer.as_deref())?;
    let controls = ControlOptions {
        keys: a.controls,
        seed: a.control_seed,
    };
    let prompts = a
        .prompts
        .as_ref()
        .map(|p| Prompts::read(&Source::File(p.clone())))
        .transpose()?;
    let bars = Bars::new(a.json);
    let (traced, reading) = match (&a.suspect_outputs, &a.suspect_model) {
        (Some(outputs), _) => {
            let tracing = Tracing {
                examination: Examination {
                    key: &key,
                    tokenizer: &tokenizer,
                    probe: Probe::Answers {
                        path: outputs,
                        prompts: prompts.as_ref(),
                        exclude_prompts: !a.no_prompt_exclusion,
                    },
                    filter: None,
                    suspect: outputs.display().to_string(),
                    alpha: a.alpha,
                    controls,
                    samples: if a.report.is_some() { 5 } else { 0 },
                },
                accounts: &accounts,
                suspected: suspected.as_deref(),
            };
            (trace(tracing, &bars)?, None)
        }
        (None, Some(model)) => {
            let served = a.watermarked.as_ref().expect("clap requires --watermarked");
            tracemark_workflow::trace::require_master(&key)?;
            let options = GgufOptions {
                threads: a.threads,
                verbose: a.verbose,
            };
            let mut weights = suspect_model(model, &options)?;
            let tracing = ReadTracing {
                key: &key,
                tokenizer: &tokenizer,
                model: weights.as_mut(),
                served,
                per_account: a.per_account,
                accounts: &accounts,
                suspected: suspected.as_deref(),
                suspect: model.display().to_string(),
                alpha: a.alpha,
                controls,
            };
            let (traced, summary) = trace_reading(tracing, &bars)?;
            (traced, Some(summary))
        }
        (None, None) => unreachable!("clap requires a suspect"),
    };
    let (inv, at) = (&traced.investigation, &traced.attribution);
    if let Some(dir) = &a.report {
        let mut report = Report::new(&key, vec![inv.clone()]);
        report.attribution = Some(traced.section(Vec::new()));
        tracemark_report::write_report(dir, &report)?;
    }
    if a.json {
        let v = json!({
            "verdict": inv.finding.verdict.label(),
            "radioactivity": inv,
            "scored": at.scored,
            "green": at.green,
            "null_mean": at.null_mean,
            "accounts": at.accounts,
            "attributed": at.attributed,
            "set_test": at.set_test,
            "power": at.power,
            "unread": at.unread,
            "reading": reading,
        });
        outln!("{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    crate::radioactivity::print_human(inv, a.no_prompt_exclusion)?;
    outln!()?;
    if let Some(r) = &reading {
        outln!(
            "read:     {} of {} served answers ({} per account at most), {} tokens, from {} \
             accounts; each account is tested on its own answers{}",
            r.answers_read,
            r.answers_served,
            r.per_account,
            r.tokens_read,
            r.accounts_read,
            if at.unread.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} listed accounts have no served answer (not tested)",
                    at.unread.len()
                )
            }
        )?;
    }
    outln!(
        "accounts: {} served{}; {} distinct tuples scored, {} green; null mean score {:.1}",
        accounts.len(),
        if reading.is_some() {
            format!(", {} tested", at.accounts.len())
        } else {
            String::new()
        },
        at.scored,
        at.green,
        at.null_mean
    )?;
    for e in at.accounts.iter().take(a.top) {
        let mark = if at.attributed.contains(&e.account) {
            "attributed"
        } else {
            ""
        };
        let read = e
            .answers_read
            .map_or(String::new(), |n| format!("  read {n:>3}"));
        outln!(
            "  {:>4}. {:<32} score {:>8}{read}  p = {:<10} {mark}",
            e.rank,
            e.account,
            e.score,
            fmt_p(e.log10_p)
        )?;
    }
    outln!(
        "attributed: {} account(s) at family-wise α = {}{}",
        at.attributed.len(),
        a.alpha,
        if at.attributed.is_empty() {
            String::new()
        } else {
            format!(": {}", at.attributed.join(", "))
        }
    )?;
    if let Some(s) = &at.set_test {
        outln!(
            "set test: {} suspected accounts, score {}, p = {}",
            s.size,
            s.score,
            fmt_p(s.log10_p)
        )?;
    }
    let p = &at.power;
    match (p.min_excess, p.min_share) {
        (Some(excess), Some(share)) => outln!(
            "power:    an account is attributed once its colour is {excess:.0} green tuples above \
             chance: at least {:.1}% of {} (at best, if they carry its colour at rate {:.2})",
            100.0 * share,
            if reading.is_some() {
                "the green tuples of its reading learned from its answers, for an account of \
                 median reading"
            } else {
                "this suspect's green tuples from its answers"
            },
            p.colour_rate
        )?,
        (Some(excess), None) => outln!(
            "power:    attribution needs {excess:.0} green tuples above chance, more than this \
             suspect's text can give: no account can be attributed at this amount of text"
        )?,
        _ => outln!("power:    no account can be attributed at this amount of text")?,
    }
    if let Some(dir) = &a.report {
        outln!("report:   {}", dir.join("report.html").display())?;
    }
    Ok(ExitCode::SUCCESS)
}
