//! `tracemark radioactivity`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use tracemark_io::{Prompts, Source, TextTokenizer};
use tracemark_radioactivity::collect::training_filter;
use tracemark_radioactivity::{ControlOptions, Investigation, Mode, Report, fmt_p};
use tracemark_workflow::investigate::{Examination, Probe, examine};
use tracemark_workflow::models::suspect_model;
use tracemark_workflow::{Bars, GgufOptions};

use crate::args::RadioactivityArgs;
use crate::out::{outln, warn_key_permissions};

pub fn run(a: &RadioactivityArgs) -> Result<ExitCode> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1, got {}", a.alpha);
    }
    if a.filter_top == Some(0) {
        bail!("--filter-top must be at least 1");
    }
    if let Some(dir) = &a.report {
        tracemark_report::check_report_dir(dir, a.force)?;
    }
    let key = tracemark_io::read_key(&a.key)?;
    warn_key_permissions(&a.key);
    let h = key.config().seeding.lookback();
    let tokenizer = TextTokenizer::load_or_default(a.tokenizer.as_deref())?;
    let filter = match &a.training {
        Some(path) => Some(training_filter(
            &tokenizer,
            &Source::File(path.clone()),
            a.filter_context.unwrap_or(h),
            a.filter_top,
        )?),
        None => None,
    };
    let prompts = a
        .prompts
        .as_ref()
        .map(|p| Prompts::read(&Source::File(p.clone())))
        .transpose()?;
    let mut suspect = None;
    let (probe, name) = if let Some(outputs) = &a.suspect_outputs {
        let probe = Probe::Answers {
            path: outputs,
            prompts: prompts.as_ref(),
            exclude_prompts: !a.no_prompt_exclusion,
        };
        (probe, outputs.display().to_string())
    } else {
        let model = a.suspect_model.as_ref().expect("clap requires a suspect");
        let texts = a.watermarked.as_ref().expect("clap requires --watermarked");
        let options = GgufOptions {
            threads: a.threads,
            verbose: a.verbose,
        };
        let weights = suspect.insert(suspect_model(model, &options)?);
        let probe = Probe::Reading {
            model: weights.as_mut(),
            texts,
        };
        (probe, model.display().to_string())
    };
    let bars = Bars::new(a.json);
    let examination = Examination {
        key: &key,
        tokenizer: &tokenizer,
        probe,
        filter: filter.as_ref().map(|f| (f, a.filter_top)),
        suspect: name,
        alpha: a.alpha,
        controls: ControlOptions {
            keys: a.controls,
            seed: a.control_seed,
        },
        samples: a.samples,
    };
    let investigation = examine(examination, &bars)?;
    let report = Report::new(&key, vec![investigation]);
    if let Some(dir) = &a.report {
        tracemark_report::write_report(dir, &report)?;
    }
    if a.json {
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        print_human(&report.investigations[0], a.no_prompt_exclusion)?;
        if let Some(dir) = &a.report {
            outln!("report:   {}", dir.join("report.html").display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_human(inv: &Investigation, no_exclusion: bool) -> std::io::Result<()> {
    let (t, c, k) = (&inv.test, &inv.counts, &inv.controls);
    outln!("verdict:  {}", inv.finding.verdict.label())?;
    outln!("          {}", inv.finding.reason)?;
    let mode = match inv.mode {
        Mode::Closed => "closed model (answers)",
        Mode::Open => "open model (reading mode)",
    };
    let supervised = match (inv.supervised, inv.filter_top) {
        (false, _) => "unsupervised".to_string(),
        (true, None) => "supervised".to_string(),
        (true, Some(n)) => format!("supervised, top {n} windows"),
    };
    outln!("suspect:  {} — {mode}, {supervised}", inv.suspect)?;
    outln!(
        "p-value:  {} (log10 p = {:.2}) over {} scored tuples; mean score {:.4} vs {:.4} under H0",
        fmt_p(t.log10_p),
        t.log10_p,
        t.scored,
        t.score,
        t.null_mean
    )?;
    outln!(
        "tuples:   {} documents ({} without a prompt), {} tokens; skipped: {} prefix, {} prompt \
         windows, {} repeated windows, {} outside the filter, {} duplicates",
        c.documents,
        c.without_prompt,
        c.tokens,
        c.prefix,
        c.prompt_window,
        c.repeated_window,
        c.not_in_filter,
        c.duplicate
    )?;
    outln!(
        "controls: true key ranks {} of {} (permutation p = {:.3}); random-key p-values: KS p = {:.2}",
        k.rank,
        k.keys + 1,
        k.permutation_p,
        k.ks.p_value
    )?;
    let curve: Vec<String> = [0.1, 0.25, 0.5, 1.0]
        .iter()
        .filter_map(|f| {
            let i = ((inv.curve.len() as f64 * f).ceil() as usize).checked_sub(1)?;
            inv.curve
                .get(i)
                .map(|p| format!("{} → {:.1}", p.scored, p.log10_p))
        })
        .collect();
    if !curve.is_empty() {
        outln!("curve:    log10 p by scored tuples: {}", curve.join(", "))?;
    }
    if no_exclusion {
        eprintln!(
            "warning: --no-prompt-exclusion scores windows copied from the prompts; with \
             watermarked prompts a clean model looks radioactive"
        );
    }
    Ok(())
}
