//! Real-model detection power: answers that SmolLM2 writes under a key are detected from
//! their re-tokenized text alone; answers written without the key are not.

mod common;

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::{DetectOptions, Detector};
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_io::TextTokenizer;
use tracemark_runtime::Chat;

const PROMPTS: [&str; 5] = [
    "Write a detailed letter to a friend describing your last holiday by the sea.",
    "Explain in detail how a bicycle works, part by part.",
    "Write a long story about a cat who learns to cook.",
    "Give detailed advice to a student preparing for their first job interview.",
    "Describe the water cycle in detail for a school science class.",
];

fn kgw(kind: SeedingKind, h: usize) -> WatermarkConfig {
    WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(2.0).unwrap(),
        },
        seeding: Seeding::new(kind, h).unwrap(),
    }
}

#[test]
fn watermarked_answers_are_detected_from_text_and_plain_ones_are_not() {
    let Some(path) = common::model_path() else {
        return;
    };
    let Some(model) = common::load() else { return };
    let tokenizer = TextTokenizer::load(&path).unwrap();
    let mut chat = Chat::new(model, None).unwrap();
    let configs = [
        kgw(SeedingKind::LeftHash, 1),
        kgw(SeedingKind::SelfHash, 3),
        WatermarkConfig {
            scheme: Scheme::Gumbel,
            seeding: Seeding::new(SeedingKind::LeftHash, 2).unwrap(),
        },
    ];
    for (c, config) in configs.into_iter().enumerate() {
        let key = Key::from_secret([c as u8 + 1; 32], config);
        let wm = Watermark::new(&key);
        let (mut marked, mut plain) = (Vec::new(), Vec::new());
        for (i, prompt) in PROMPTS.iter().enumerate() {
            for (with_key, out) in [(true, &mut marked), (false, &mut plain)] {
                let params = SamplingParams::new(0.7, 0, 0.95, 100 + i as u64).unwrap();
                let mut embedder = Embedder::new(with_key.then_some(&key), params);
                let answer = chat.answer(&mut embedder, prompt, 200, |_| {}).unwrap();
                let ids = tokenizer.encode(&answer.text).unwrap().ids;
                let d = Detector::new(&wm, DetectOptions::default()).detect(&ids, None);
                eprintln!(
                    "{} {} prompt {i}: {} tokens, {} scored, log10 p = {:.1}",
                    config.describe(),
                    if with_key { "marked" } else { "plain " },
                    ids.len(),
                    d.test.scored,
                    d.test.log10_p
                );
                if with_key {
                    assert!(
                        ids.len() >= 150,
                        "answer {i} too short for the test: {} tokens",
                        ids.len()
                    );
                }
                out.push(d.test.log10_p);
            }
        }
        let name = config.describe();
        assert!(
            marked.iter().all(|&lp| lp <= -4.0),
            "{name}: a watermarked answer was missed: {marked:?}"
        );
        let mut sorted = marked.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(
            sorted[sorted.len() / 2] <= -8.0,
            "{name}: median p above 1e-8: {marked:?}"
        );
        let flagged = plain.iter().filter(|&&lp| lp <= -2.0).count();
        assert!(
            flagged <= 1,
            "{name}: {flagged} unwatermarked answers at p ≤ 0.01: {plain:?}"
        );
    }
}
