//! `paper NAME`: regenerate one reproduction under papers/ (tables, JSON and plots).
//!
//! ```sh
//! cargo run --release -p tracemark-papers -- sander2024-radioactive
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, ValueEnum};
use tracemark_papers::corpora::{self, Sources};
use tracemark_papers::{fernandez2023, kirchenbauer2023, sander2024};
use tracemark_workflow::Bars;
use tracemark_workflow::models::model_or_default;

/// Regenerate a paper reproduction (table, JSON and plots under papers/NAME/).
#[derive(Debug, Parser)]
#[command(name = "paper", version, about)]
struct Args {
    /// Which reproduction.
    name: PaperName,
    /// sander2024: answers per training prompt, with and without the watermark each.
    #[arg(long, value_name = "N", default_value_t = 4)]
    samples: usize,
    /// fernandez2023: random keys of the false-positive study.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    keys: usize,
    /// Only generate this share of the model corpora (I/N), e.g. on several machines, then
    /// stop; a later run without it finds every share in the cache.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Where the results go [default: papers/NAME].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The teacher [default: SmolLM2-135M-Instruct, fetched on first use].
    #[arg(long, value_name = "FILE.gguf")]
    model: Option<PathBuf>,
    /// Cache of teacher corpora [default: the tracemark cache directory].
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Random keys per radioactivity test.
    #[arg(long, value_name = "M", default_value_t = tracemark_radioactivity::DEFAULT_CONTROLS)]
    controls: usize,
    /// CPU threads for llama.cpp.
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Reproductions under papers/.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum PaperName {
    /// Sander et al. 2024: radioactivity against ρ and corpus size.
    #[value(name = "sander2024-radioactive")]
    Sander2024Radioactive,
    /// Kirchenbauer et al. 2023: z-score and detection against length, γ and δ; quality
    /// cost; seeding schemes under attack.
    #[value(name = "kirchenbauer2023-watermark")]
    Kirchenbauer2023Watermark,
    /// Fernandez et al. 2023 (Three Bricks): empirical FPR of the z-test and the exact
    /// tests over many keys; TPR at FPR 1e-6.
    #[value(name = "fernandez2023-three-bricks")]
    Fernandez2023ThreeBricks,
}

impl PaperName {
    /// The folder under papers/.
    fn folder(&self) -> &'static str {
        match self {
            PaperName::Sander2024Radioactive => "sander2024-radioactive",
            PaperName::Kirchenbauer2023Watermark => "kirchenbauer2023-watermark",
            PaperName::Fernandez2023ThreeBricks => "fernandez2023-three-bricks",
        }
    }
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("expected I/N with 0 ≤ I < N, got {s:?}");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn run(a: &Args) -> Result<()> {
    anyhow::ensure!(a.keys > 0, "--keys must be at least 1");
    let folder = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("papers").join(a.name.folder()));
    let cache = |name: &str| -> Result<PathBuf> {
        Ok(match &a.cache {
            Some(p) => p.clone(),
            None => tracemark_io::models::cache_subdir(name)?,
        })
    };
    let started = std::time::Instant::now();
    let bars = Bars::new(a.json);
    let model = model_or_default(a.model.as_deref(), &bars)?;
    let rendered = match a.name {
        PaperName::Sander2024Radioactive => {
            let cache = cache("demo")?;
            let options = sander2024::Options {
                model,
                work: cache.join("sander2024-work"),
                cache,
                samples: a.samples,
                shard: a.shard,
                threads: a.threads,
                controls: a.controls,
            };
            sander2024::run(&options, &bars)?.map(|o| {
                let json = serde_json::to_string(&o);
                (sander2024::render(&o), json)
            })
        }
        PaperName::Kirchenbauer2023Watermark | PaperName::Fernandez2023ThreeBricks => {
            let sources = Sources {
                model,
                cache: cache("papers")?,
                threads: a.threads,
                shard: a.shard,
            };
            if let PaperName::Kirchenbauer2023Watermark = a.name {
                let settings = kirchenbauer2023::settings();
                corpora::load(&sources, &settings, &bars)?.map(|c| {
                    let o = kirchenbauer2023::analyse(&c, &bars);
                    (kirchenbauer2023::render(&o), serde_json::to_string(&o))
                })
            } else {
                let settings = fernandez2023::settings();
                corpora::load(&sources, &settings, &bars)?.map(|c| {
                    let o = fernandez2023::analyse(&c, a.keys, &bars);
                    (fernandez2023::render(&o), serde_json::to_string(&o))
                })
            }
        }
    };
    let Some((files, json)) = rendered else {
        if !a.json {
            eprintln!("shard done: its corpora are in the cache");
        }
        return Ok(());
    };
    let secs = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&folder)?;
    tracemark_papers::write_outputs(&folder, &files)?;
    if a.json {
        println!("{}", json?);
        return Ok(());
    }
    let table = &files
        .iter()
        .find(|(n, _)| n == "results.md")
        .expect("rendered")
        .1;
    println!("{table}\n{:.0} s; written to {}", secs, folder.display());
    Ok(())
}
