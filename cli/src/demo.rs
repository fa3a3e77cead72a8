//! `tracemark demo`: the distillation story end to end on the default model.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::DemoArgs;

#[cfg(not(feature = "llama"))]
pub fn run(_: &DemoArgs) -> Result<ExitCode> {
    Err(tracemark_workflow::WorkflowError::NoLlama {
        what: "tracemark demo (the teacher is a GGUF model)".into(),
    }
    .into())
}

#[cfg(feature = "llama")]
pub fn run(a: &DemoArgs) -> Result<ExitCode> {
    use tracemark_demo::{AccountStory, DEMO_CONTEXT, DEMO_DELTA, DemoOptions, Scale};
    use tracemark_workflow::Bars;

    use crate::out::outln;

    let accounts = match (a.accounts, a.harvesters) {
        (Some(n), Some(h)) => Some(AccountStory::new(n, h)?),
        _ => None,
    };
    let bars = Bars::new(a.json);
    let model = tracemark_workflow::models::model_or_default(a.teacher.model.as_deref(), &bars)?;
    let cache = match &a.teacher.cache {
        Some(p) => p.clone(),
        None => tracemark_io::models::cache_subdir("demo")?,
    };
    let options = DemoOptions {
        scale: if a.quick { Scale::QUICK } else { Scale::FULL },
        seed: a.seed,
        model,
        cache,
        fresh: a.fresh,
        out: a.out.clone(),
        threads: a.teacher.threads,
        controls: a.teacher.controls,
        config: tracemark_demo::demo_config(
            a.context.unwrap_or(DEMO_CONTEXT),
            a.delta.unwrap_or(DEMO_DELTA),
        )?,
        accounts,
    };
    let started = std::time::Instant::now();
    let outcome = tracemark_demo::run(&options, &bars)?;
    let secs = started.elapsed().as_secs_f64();
    let report = options.out.join("report.html");
    if a.json {
        let targets: Vec<_> = outcome
            .targets
            .iter()
            .map(|(t, ok)| serde_json::json!({"target": t, "met": ok}))
            .collect();
        let v = serde_json::json!({
            "seed": a.seed,
            "quick": a.quick,
            "key_id": outcome.report.key_id,
            "scheme": outcome.report.scheme,
            "rows": outcome.rows,
            "targets": targets,
            "attribution": outcome.report.attribution,
            "seconds": secs,
            "report": report,
        });
        outln!("{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "\nkey {} ({}), seed {}, {:.0} s\n",
        outcome.report.key_id,
        outcome.report.scheme,
        a.seed,
        secs
    )?;
    outln!(
        "{:<12} {:>6}  {:<20} {:>7}  {:>9}  {:>9}  verdict",
        "student",
        "ρ",
        "test",
        "scored",
        "log10 p",
        "key rank"
    )?;
    for r in &outcome.rows {
        outln!(
            "{:<12} {:>5.1}%  {:<20} {:>7}  {:>9.2}  {:>4}/{:<4}  {}",
            r.student,
            r.rho * 100.0,
            r.test,
            r.scored,
            r.log10_p,
            r.rank,
            r.keys,
            r.verdict
        )?;
    }
    if let Some(at) = &outcome.report.attribution {
        outln!(
            "\naccounts: {} served; harvesters {}; attributed {}",
            at.served_accounts,
            at.harvesters.as_deref().unwrap_or_default().join(", "),
            if at.attributed.is_empty() {
                "none".to_string()
            } else {
                at.attributed.join(", ")
            }
        )?;
        for t in &at.set_tests {
            outln!(
                "set test, {} ({}): log10 p = {:.2}",
                t.name,
                t.size,
                t.log10_p
            )?;
        }
        for r in at.ranking.iter().take(5) {
            outln!(
                "  {:>3}. {:<12} log10 p = {:>7.2}{}",
                r.rank,
                r.account,
                r.log10_p,
                if r.attributed { "  attributed" } else { "" }
            )?;
        }
    }
    outln!()?;
    for (target, ok) in &outcome.targets {
        outln!("{} {target}", if *ok { "[met]" } else { "[MISSED]" })?;
    }
    outln!(
        "\nevidence report: {}\n(the demo key is derived from the seed and is public: it proves \
         nothing outside the demo)",
        report.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(all(test, feature = "llama"))]
mod tests {
    /// `tracemark demo --help` states these defaults in words.
    #[test]
    fn the_help_text_states_the_demo_defaults() {
        assert_eq!(tracemark_demo::DEMO_CONTEXT, 1);
        assert_eq!(tracemark_demo::DEMO_DELTA, 3.0);
    }
}
