//! `tracemark paper NAME`: regenerate a reproduction under papers/.

use std::path::PathBuf;

use anyhow::Result;
use tracemark_papers::sander2024;

use crate::args::{PaperArgs, PaperName};
use crate::demo::{Bars, cache_dir, model_path};

pub fn run(a: &PaperArgs) -> Result<()> {
    let PaperName::Sander2024Radioactive = a.name;
    let folder = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("papers/sander2024-radioactive"));
    let cache = cache_dir(a.cache.as_ref(), "demo")?;
    let options = sander2024::Options {
        model: model_path(a.model.as_ref())?,
        work: cache.join("sander2024-work"),
        cache,
        samples: a.samples,
        shard: a.shard,
        threads: a.threads,
        controls: a.controls,
    };
    let started = std::time::Instant::now();
    let Some(outcome) = sander2024::run(&options, &Bars::new(a.json))? else {
        if !a.json {
            eprintln!(
                "shard done: its teacher chunks are in {}",
                options.cache.display()
            );
        }
        return Ok(());
    };
    let secs = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&folder)?;
    let files = sander2024::render(&outcome);
    tracemark_papers::write_outputs(&folder, &files)?;
    if a.json {
        println!("{}", serde_json::to_string(&outcome)?);
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
