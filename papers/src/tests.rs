//! The detection papers' analyses and tables on small synthetic corpora: every table row
//! is filled, watermarked text is detected and plain text is not.

use tracemark_embed::{Embedder, SamplingParams};
use tracemark_workflow::Quiet as Silent;

use crate::corpora::{Corpus, Doc, Setting};
use crate::{fernandez2023, kirchenbauer2023};

/// Word-like token ids from a fixed pool, sampled through the embedder from flat logits
/// over the pool, so watermarked corpora carry a strong watermark.
fn corpus(setting: &Setting, docs: usize, len: usize) -> Corpus {
    let key = setting.key();
    let pool: Vec<u32> = (0..400u32).map(|i| 1000 + 37 * i).collect();
    let docs = (0..docs)
        .map(|d| {
            let params = SamplingParams::new(1.0, 0, 1.0, 7 + d as u64).unwrap();
            let mut embedder = Embedder::new(key.as_ref(), params);
            let mut ids = vec![pool[d % pool.len()]];
            while ids.len() < len {
                let mut logits = vec![f32::NEG_INFINITY; 49_152];
                for &t in &pool {
                    logits[t as usize] = 0.0;
                }
                ids.push(embedder.next_token(&ids, &mut logits));
            }
            Doc {
                prompt: format!("prompt {d}"),
                text: String::new(),
                proposals: ids
                    .iter()
                    .map(|&t| vec![t, pool[(t as usize) % 400]])
                    .collect(),
                nll: vec![1.0; ids.len()],
                ids,
            }
        })
        .collect();
    Corpus {
        setting: setting.clone(),
        key,
        docs,
    }
}

#[test]
fn kirchenbauer_fills_every_table() {
    let corpora: Vec<Corpus> = kirchenbauer2023::settings()
        .iter()
        .map(|s| corpus(s, if s.config.is_some() { 4 } else { 12 }, 120))
        .collect();
    let o = kirchenbauer2023::analyse(&corpora, &Silent);
    assert_eq!(o.grid.len(), 9);
    assert_eq!(o.attacks.len(), 4 * 3 * kirchenbauer2023::RATES.len());
    assert_eq!(o.copy_paste.len(), 4 * kirchenbauer2023::SPANS.len());
    // δ = 5 on flat logits: every scored token green; re-tokenization may merge a few.
    let strong = o
        .grid
        .iter()
        .find(|r| r.setting.contains("γ=0.25, δ=5"))
        .unwrap();
    assert!(strong.detection.tpr[4].tpr == 1.0, "{:?}", strong.detection);
    let files = kirchenbauer2023::render(&o);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "results.json",
            "results.md",
            "z_vs_length.svg",
            "substitution.svg"
        ]
    );
    let md = &files[1].1;
    let rows = md
        .lines()
        .filter(|l| l.starts_with("| kgw") || l.starts_with("| gumbel"))
        .count();
    // z by length (9 + 3 not in the grid), seedings (4), attacks (4 × 10), copy-paste (4 × 3 × 2).
    assert_eq!(rows, 12 + 4 + 40 + 24, "{md}");
}

#[test]
fn fernandez_fills_every_table_and_plain_text_stays_below_nominal() {
    let corpora: Vec<Corpus> = fernandez2023::settings()
        .iter()
        .map(|s| corpus(s, if s.config.is_some() { 4 } else { 20 }, 100))
        .collect();
    let o = fernandez2023::analyse(&corpora, 50, &Silent);
    let sources = o.sources.len();
    assert!(sources >= 1);
    assert_eq!(o.fpr.len(), sources * 3 * 4);
    for r in o
        .fpr
        .iter()
        .filter(|r| r.dedup && r.test == tracemark_eval::Test::Exact)
    {
        // The exact test with dedup is valid: at 1e-2 it expects ≤ 1% of the trials.
        let e = &r.estimates[0];
        assert!(e.trials >= 1000 && e.lower <= 1e-2, "{r:?}");
    }
    assert_eq!(o.tpr.len(), 2);
    let files = fernandez2023::render(&o);
    assert_eq!(files.len(), 2 + sources);
    assert!(
        files[1].1.contains("| gumbel selfhash(h=3) | 4 |"),
        "{}",
        files[1].1
    );
}
