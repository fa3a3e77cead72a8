//! `tracemark radioactivity`.

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tracemark_core::Watermark;
use tracemark_io::suspect::{self, Prompts};
use tracemark_io::{Source, TextTokenizer};
use tracemark_radioactivity::{
    ControlOptions, Investigation, Mode, READ_BLOCK, Report, TestSettings, fmt_p, investigate,
};
use tracemark_runtime::{LanguageModel, LlamaModel, LoadOptions};

use crate::args::RadioactivityArgs;

pub fn run(a: &RadioactivityArgs) -> Result<()> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1, got {}", a.alpha);
    }
    if a.filter_top == Some(0) {
        bail!("--filter-top must be at least 1");
    }
    let key = tracemark_io::read_key(&a.key)?;
    let h = key.config().seeding.lookback();
    let tokenizer = match &a.tokenizer {
        Some(path) => TextTokenizer::load(path)?,
        None => TextTokenizer::default_model()?,
    };
    let filter = match &a.training {
        Some(path) => Some(suspect::training_filter(
            &tokenizer,
            &Source::File(path.clone()),
            a.filter_context.unwrap_or(h),
            a.filter_top,
        )?),
        None => None,
    };
    let bar = bytes_bar(a);
    let mut progress = |bytes: u64| bar.set_position(bytes);
    let (collected, mode, name) = if let Some(outputs) = &a.suspect_outputs {
        bar.set_length(file_len(outputs));
        let prompts = a
            .prompts
            .as_ref()
            .map(|p| Prompts::read(&Source::File(p.clone())))
            .transpose()?;
        let options = suspect::ClosedOptions {
            h,
            prompts: prompts.as_ref(),
            exclude_prompts: !a.no_prompt_exclusion,
            filter: filter.as_ref(),
            samples: a.samples,
        };
        let collected = suspect::collect_answers(
            &tokenizer,
            &Source::File(outputs.clone()),
            &options,
            &mut progress,
        )?;
        (collected, Mode::Closed, outputs.display().to_string())
    } else {
        let (model_path, texts) = (
            a.suspect_model.as_ref().expect("clap requires a suspect"),
            a.watermarked.as_ref().expect("clap requires --watermarked"),
        );
        // A suspect is a distilled student file or any GGUF model llama.cpp runs.
        let mut model: Box<dyn LanguageModel> =
            if tracemark_io::students::is_student_file(model_path) {
                Box::new(tracemark_io::students::load_student(model_path)?)
            } else {
                Box::new(LlamaModel::load(
                    model_path,
                    // Whole 256-token blocks per micro-batch: reading needs no bit-exact
                    // match with stepwise decoding, only speed.
                    &LoadOptions {
                        verbose: a.verbose,
                        n_threads: a.threads,
                        n_batch: READ_BLOCK as u32,
                        n_ubatch: READ_BLOCK as u32,
                        ..LoadOptions::default()
                    },
                )?)
            };
        bar.set_length(file_len(texts));
        let collected = suspect::collect_reading(
            &tokenizer,
            model.as_mut(),
            &Source::File(texts.clone()),
            h,
            filter.as_ref(),
            a.samples,
            &mut progress,
        )?;
        (collected, Mode::Open, model_path.display().to_string())
    };
    bar.finish_and_clear();

    let settings = TestSettings {
        suspect: name,
        mode,
        supervised: a.training.as_ref().map(|_| a.filter_top),
        prompt_exclusion: mode == Mode::Closed && !a.no_prompt_exclusion,
        alpha: a.alpha,
        controls: ControlOptions {
            keys: a.controls,
            seed: a.control_seed,
        },
    };
    let bar = counter_bar(a, a.controls as u64, "random keys");
    let mut investigation = investigate(&key, &collected.tuples, &settings, &|| bar.inc(1));
    bar.finish_and_clear();
    investigation.samples = suspect::finish_samples(
        collected.samples,
        &collected.tuples,
        &Watermark::new(&key),
        &tokenizer,
    );
    let report = Report::new(&key, vec![investigation]);
    if let Some(dir) = &a.report {
        suspect::write_report(dir, &report)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_human(&report.investigations[0], a.no_prompt_exclusion);
        if let Some(dir) = &a.report {
            println!("report:   {}", dir.join("report.html").display());
        }
    }
    Ok(())
}

fn print_human(inv: &Investigation, no_exclusion: bool) {
    let (t, c, k) = (&inv.test, &inv.counts, &inv.controls);
    println!("verdict:  {}", inv.finding.verdict.label());
    println!("          {}", inv.finding.reason);
    let mode = match inv.mode {
        Mode::Closed => "closed model (answers)",
        Mode::Open => "open model (reading mode)",
    };
    let supervised = match (inv.supervised, inv.filter_top) {
        (false, _) => "unsupervised".to_string(),
        (true, None) => "supervised".to_string(),
        (true, Some(n)) => format!("supervised, top {n} windows"),
    };
    println!("suspect:  {} — {mode}, {supervised}", inv.suspect);
    println!(
        "p-value:  {} (log10 p = {:.2}) over {} scored tuples; mean score {:.4} vs {:.4} under H0",
        fmt_p(t.log10_p),
        t.log10_p,
        t.scored,
        t.score,
        t.null_mean
    );
    println!(
        "tuples:   {} documents, {} tokens; skipped: {} prefix, {} prompt windows, {} repeated \
         windows, {} outside the filter, {} duplicates",
        c.documents,
        c.tokens,
        c.prefix,
        c.prompt_window,
        c.repeated_window,
        c.not_in_filter,
        c.duplicate
    );
    println!(
        "controls: true key ranks {} of {} (permutation p = {:.3}); random-key p-values: KS p = {:.2}",
        k.rank,
        k.keys + 1,
        k.permutation_p,
        k.ks.p_value
    );
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
        println!("curve:    log10 p by scored tuples: {}", curve.join(", "));
    }
    if no_exclusion {
        eprintln!(
            "warning: --no-prompt-exclusion scores windows copied from the prompts; with \
             watermarked prompts a clean model looks radioactive"
        );
    }
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn bytes_bar(a: &RadioactivityArgs) -> ProgressBar {
    if a.json {
        return ProgressBar::hidden();
    }
    ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} read  {bytes_per_sec}  eta {eta}",
        )
        .expect("valid template"),
    )
}

fn counter_bar(a: &RadioactivityArgs, len: u64, what: &str) -> ProgressBar {
    if a.json {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len).with_style(
        ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what}  eta {{eta}}"))
            .expect("valid template"),
    )
}
