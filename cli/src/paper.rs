//! `tracemark paper NAME`: regenerate a reproduction under papers/.

use std::path::PathBuf;

use anyhow::Result;
use tracemark_papers::corpora::{self, Sources};
use tracemark_papers::{fernandez2023, kirchenbauer2023, sander2024};

use crate::args::{PaperArgs, PaperName};
use crate::demo::{Bars, cache_dir, model_path};

pub fn run(a: &PaperArgs) -> Result<()> {
    let folder = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("papers").join(a.name.folder()));
    anyhow::ensure!(a.keys > 0, "--keys must be at least 1");
    let started = std::time::Instant::now();
    let bars = Bars::new(a.json);
    let rendered = match a.name {
        PaperName::Sander2024Radioactive => {
            let cache = cache_dir(a.teacher.cache.as_ref(), "demo")?;
            let options = sander2024::Options {
                model: model_path(a.teacher.model.as_ref())?,
                work: cache.join("sander2024-work"),
                cache,
                samples: a.samples,
                shard: a.shard,
                threads: a.teacher.threads,
                controls: a.teacher.controls,
            };
            sander2024::run(&options, &bars)?.map(|o| {
                let json = serde_json::to_string(&o);
                (sander2024::render(&o), json)
            })
        }
        PaperName::Kirchenbauer2023Watermark | PaperName::Fernandez2023ThreeBricks => {
            let sources = Sources {
                model: model_path(a.teacher.model.as_ref())?,
                cache: cache_dir(a.teacher.cache.as_ref(), "papers")?,
                threads: a.teacher.threads,
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
