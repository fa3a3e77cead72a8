//! `tracemark trace`.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use tracemark_io::{Prompts, Source, TextTokenizer, read_accounts};
use tracemark_radioactivity::{ControlOptions, Report, fmt_p};
use tracemark_workflow::Bars;
use tracemark_workflow::investigate::{Examination, Probe};
use tracemark_workflow::trace::{Tracing, trace};

use crate::args::TraceArgs;
use crate::out::{outln, warn_key_permissions};

pub fn run(a: &TraceArgs) -> Result<ExitCode> {
    if let Some(dir) = &a.report {
        tracemark_report::check_report_dir(dir, a.force)?;
    }
    let key = tracemark_io::read_key(&a.key)?;
    warn_key_permissions(&a.key);
    let accounts = read_accounts(&a.accounts)?;
    let suspected = a.suspected.as_deref().map(read_accounts).transpose()?;
    let tokenizer = TextTokenizer::load_or_default(a.tokenizer.as_deref())?;
    let prompts = a
        .prompts
        .as_ref()
        .map(|p| Prompts::read(&Source::File(p.clone())))
        .transpose()?;
    let bars = Bars::new(a.json);
    let tracing = Tracing {
        examination: Examination {
            key: &key,
            tokenizer: &tokenizer,
            probe: Probe::Answers {
                path: &a.suspect_outputs,
                prompts: prompts.as_ref(),
                exclude_prompts: !a.no_prompt_exclusion,
            },
            filter: None,
            suspect: a.suspect_outputs.display().to_string(),
            alpha: a.alpha,
            controls: ControlOptions {
                keys: a.controls,
                seed: a.control_seed,
            },
            samples: if a.report.is_some() { 5 } else { 0 },
        },
        accounts: &accounts,
        suspected: suspected.as_deref(),
    };
    let traced = trace(tracing, &bars)?;
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
        });
        outln!("{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    crate::radioactivity::print_human(inv, a.no_prompt_exclusion)?;
    outln!()?;
    outln!(
        "accounts: {} served; {} distinct tuples scored, {} green; null mean score {:.1}",
        at.accounts.len(),
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
        outln!(
            "  {:>4}. {:<32} score {:>8}  p = {:<10} {mark}",
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
             chance: at least {:.1}% of this suspect's green tuples from its answers (at best, \
             if they carry its colour at rate {:.2})",
            100.0 * share,
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
