//! `tracemark demo`: the distillation story end to end on the default model.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use tracemark_demo::{DemoOptions, Progress, Scale};

use crate::args::DemoArgs;

/// Progress bars on standard error; hidden with `--json`.
pub struct Bars {
    hidden: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars, or none at all when `hidden`.
    pub fn new(hidden: bool) -> Self {
        Self {
            hidden,
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &str) {
        if !self.hidden {
            eprintln!("{name}");
        }
    }
    fn start(&self, len: u64, unit: &str) {
        let bar = if self.hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(len).with_style(
                ProgressStyle::with_template(&format!(
                    "  {{bar:30}} {{pos}}/{{len}} {unit}  {{per_sec}}  eta {{eta}}"
                ))
                .expect("valid template"),
            )
        };
        *self.bar.lock().expect("progress lock") = Some(bar);
    }
    fn inc(&self, n: u64) {
        if let Some(bar) = self.bar.lock().expect("progress lock").as_ref() {
            bar.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}

/// `given`, or `NAME` beside the model cache.
pub fn cache_dir(given: Option<&PathBuf>, name: &str) -> Result<PathBuf> {
    Ok(match given {
        Some(p) => p.clone(),
        None => tracemark_runtime::cache_dir()?
            .parent()
            .map_or_else(|| PathBuf::from(".tracemark-cache"), |p| p.join(name)),
    })
}

/// `given`, or the default model (fetched on first use).
pub fn model_path(given: Option<&PathBuf>) -> Result<PathBuf> {
    Ok(match given {
        Some(p) => p.clone(),
        None => tracemark_runtime::default_model_path()?,
    })
}

pub fn run(a: &DemoArgs) -> Result<()> {
    let model = model_path(a.teacher.model.as_ref())?;
    let cache = cache_dir(a.teacher.cache.as_ref(), "demo")?;
    let options = DemoOptions {
        scale: if a.quick { Scale::QUICK } else { Scale::FULL },
        seed: a.seed,
        model,
        cache,
        fresh: a.fresh,
        out: a.out.clone(),
        threads: a.teacher.threads,
        controls: a.teacher.controls,
        config: tracemark_demo::demo_config(a.context, a.delta)?,
    };
    let started = std::time::Instant::now();
    let bars = Bars::new(a.json);
    let outcome = tracemark_demo::run(&options, &bars)?;
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "seed": a.seed,
                "quick": a.quick,
                "key_id": outcome.report.key_id,
                "scheme": outcome.report.scheme,
                "rows": outcome.rows,
                "targets": outcome.targets.iter().map(|(t, ok)| serde_json::json!({"target": t, "met": ok})).collect::<Vec<_>>(),
                "seconds": secs,
                "report": options.out.join("report.html"),
            }))?
        );
        return Ok(());
    }
    println!(
        "\nkey {} ({}), seed {}, {:.0} s\n",
        outcome.report.key_id, outcome.report.scheme, a.seed, secs
    );
    println!(
        "{:<12} {:>6}  {:<20} {:>7}  {:>9}  {:>9}  verdict",
        "student", "ρ", "test", "scored", "log10 p", "key rank"
    );
    for r in &outcome.rows {
        println!(
            "{:<12} {:>5.1}%  {:<20} {:>7}  {:>9.2}  {:>4}/{:<4}  {}",
            r.student,
            r.rho * 100.0,
            r.test,
            r.scored,
            r.log10_p,
            r.rank,
            r.keys,
            r.verdict
        );
    }
    println!();
    for (target, ok) in &outcome.targets {
        println!("{} {target}", if *ok { "[met]" } else { "[MISSED]" });
    }
    println!(
        "\nevidence report: {}\n(the demo key is derived from the seed and is public: it proves nothing outside the demo)",
        options.out.join("report.html").display()
    );
    Ok(())
}
