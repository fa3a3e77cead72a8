//! The supervised filter is built from text watermarked with the true key, so it depends on
//! that key and random-key controls cannot vouch for it. This checks it directly: a clean
//! student whose training answers come from the same teacher as the watermarked corpus (so
//! their contexts overlap heavily) is not found radioactive, over many keys.
//!
//! The teacher is a 4-gram Kneser-Ney model of the bundled prompts, over the real tokenizer:
//! low-entropy, repetitive text, the hard case for a filter keyed on shared contexts.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rayon::prelude::*;
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::calibration::{empirical_fpr, ks_valid};
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_io::TextTokenizer;
use tracemark_model::LanguageModel;
use tracemark_radioactivity::{TupleSet, WindowCounts, score_tuples};
use tracemark_student::{KneserNey, StudentConfig, Trainer};

fn config(h: usize) -> WatermarkConfig {
    WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(3.0).unwrap(),
        },
        seeding: Seeding::new(SeedingKind::LeftHash, h).unwrap(),
    }
}

fn answer(
    model: &mut KneserNey,
    key: Option<&Key>,
    prompt: &[u32],
    seed: u64,
    max: usize,
) -> Vec<u32> {
    let ids = model.chat_prompt(prompt);
    let mut e = Embedder::new(key, SamplingParams::new(0.8, 0, 0.95, seed).unwrap());
    let mut ctx = ids.clone();
    let mut logits = model.start(&ids).unwrap().to_vec();
    let mut out = Vec::new();
    while out.len() < max {
        let t = e.next_token(&ctx, &mut logits);
        if model.is_eog(t) {
            break;
        }
        out.push(t);
        ctx.push(t);
        logits.copy_from_slice(model.step(t).unwrap());
    }
    out
}

const KEYS: usize = 100;

/// Token sequences.
type Texts = Vec<Vec<u32>>;

#[test]
fn supervised_filter_keeps_a_clean_student_calibrated() {
    let tok = TextTokenizer::default_model().unwrap();
    let specials = tracemark_student::files::student_specials(&tok).unwrap();
    let lines: Vec<String> = include_str!("../../crates/demo/assets/prompts.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["prompt"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let ids: Vec<Vec<u32>> = lines.iter().map(|l| tok.encode_ids(l).unwrap()).collect();
    let (train, query) = ids.split_at(260);
    let new = || Trainer::new(StudentConfig::new(tok.vocab_size(), 4, specials).unwrap());
    let mut t = new();
    for s in &ids {
        t.add_sequence(s).unwrap();
    }
    let teacher = t.finish().unwrap();
    // Control student: trained on the teacher's plain answers.
    let mut t = new();
    let mut tm = teacher.clone();
    for (i, p) in train.iter().enumerate() {
        t.add_exchange(p, &answer(&mut tm, None, p, 5_000 + i as u64, 60))
            .unwrap();
    }
    let student = t.finish().unwrap();
    let h = 1;
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let keys: Vec<Key> = (0..KEYS)
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            Key::from_secret(s, config(h))
        })
        .collect();
    let texts: Vec<(Texts, Texts)> = keys
        .par_iter()
        .enumerate()
        .map(|(i, key)| {
            let (mut tm, mut sm) = (teacher.clone(), student.clone());
            (
                train
                    .iter()
                    .take(60)
                    .enumerate()
                    .map(|(d, p)| answer(&mut tm, Some(key), p, (i * 1000 + d) as u64, 40))
                    .collect(),
                query
                    .iter()
                    .take(40)
                    .enumerate()
                    .map(|(d, p)| answer(&mut sm, None, p, 1_000_000 + (i * 1000 + d) as u64, 80))
                    .collect(),
            )
        })
        .collect();
    for k in [1usize, 3] {
        let res: Vec<(f64, u64)> = keys
            .par_iter()
            .zip(&texts)
            .map(|(key, (t, s))| {
                let mut counts = WindowCounts::new(k.max(1));
                for d in t {
                    counts.add(d);
                }
                let filter = counts.filter(None);
                let mut tuples = TupleSet::new(h);
                for d in s {
                    tuples.add_answer(d, None, (k > 0).then_some(&filter));
                }
                let s = score_tuples(&Watermark::new(key), &tuples, 0).test;
                (s.p_value, s.scored)
            })
            .collect();
        let p: Vec<f64> = res.iter().map(|r| r.0).collect();
        let n: u64 = res.iter().map(|r| r.1).sum::<u64>() / res.len() as u64;
        let ks = ks_valid(&p);
        let fpr05 = empirical_fpr(&p, 0.05);
        eprintln!(
            "filter context {k}: {n} tuples per key; one-sided KS D+ {:.3} p {:.3}; FPR@0.05 {}/{}",
            ks.d, ks.p_value, fpr05.rejections, fpr05.trials
        );
        assert!(
            ks.p_value >= 0.01,
            "filter context {k}: p-values smaller than uniform: {ks:?}"
        );
        assert!(
            fpr05.lower <= 0.05,
            "filter context {k}: FPR at 0.05 too high: {fpr05:?}"
        );
        assert!(
            n >= 50,
            "filter context {k}: only {n} tuples per key, too few to tell"
        );
    }
}
