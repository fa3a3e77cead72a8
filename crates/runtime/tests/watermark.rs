//! Real-model detection power: answers that SmolLM2 writes under a key are detected from
//! their re-tokenized text alone; answers written without the key are not.

mod common;

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::{DetectOptions, Detector};
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_io::TextTokenizer;
use tracemark_runtime::{Answer, Chat, LanguageModel};

/// Per-token negative log-likelihood of the answer under the (unwatermarked) model, by
/// teacher forcing over prompt + answer with logits at every position.
fn answer_nll(model: &mut dyn LanguageModel, answer: &Answer) -> Vec<f64> {
    let mut seq = answer.prompt_ids.clone();
    seq.extend(&answer.generation.ids);
    let rows = model.score_all(&seq).unwrap();
    let start = answer.prompt_ids.len() - 1;
    answer
        .generation
        .ids
        .iter()
        .enumerate()
        .map(|(j, &t)| {
            let row = rows.row(start + j);
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let log_z = max
                + row
                    .iter()
                    .map(|&l| (l as f64 - max).exp())
                    .sum::<f64>()
                    .ln();
            log_z - row[t as usize] as f64
        })
        .collect()
}

fn mean_and_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (
        mean,
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

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
        let (mut nll_marked, mut nll_plain) = (Vec::new(), Vec::new());
        for (i, prompt) in PROMPTS.iter().enumerate() {
            for (with_key, out) in [(true, &mut marked), (false, &mut plain)] {
                let params = SamplingParams::new(0.7, 0, 0.95, 100 + i as u64).unwrap();
                let mut embedder = Embedder::new(with_key.then_some(&key), params);
                let answer = chat.answer(&mut embedder, prompt, 200, |_| {}).unwrap();
                let nll = answer_nll(chat.model(), &answer);
                if with_key {
                    nll_marked.extend(nll)
                } else {
                    nll_plain.extend(nll)
                }
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

        // Quality guard: mean NLL under the unwatermarked model. Gumbel is distortion-free, so
        // it must not raise the NLL beyond noise (3 standard errors, tokens taken as
        // independent). KGW's cost is reported; its bound is not settled yet (see the README).
        let ((m, vm), (p, vp)) = (mean_and_var(&nll_marked), mean_and_var(&nll_plain));
        let se = (vm / nll_marked.len() as f64 + vp / nll_plain.len() as f64).sqrt();
        eprintln!(
            "{name}: mean NLL watermarked {m:.3}, unwatermarked {p:.3} nats/token (se of difference {se:.3})"
        );
        if config.scheme == Scheme::Gumbel {
            assert!(
                m - p <= 3.0 * se,
                "{name}: NLL rose beyond noise: {m:.3} vs {p:.3}"
            );
        }
    }
}
