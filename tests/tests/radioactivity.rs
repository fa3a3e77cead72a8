//! Radioactivity tests are valid under H0 and have power, on the synthetic model
//! (`tracemark_tests::synthetic`), over hundreds of random keys.
//!
//! - Reading mode: a clean model reading watermarked text is not radioactive, although the
//!   text is watermarked and the model often predicts exactly the watermarked token. A model
//!   that absorbed the watermark is.
//! - Closed model with watermarked prompts that the suspect partly copies: with the
//!   prompt-window exclusion the p-value is valid; without it the clean suspect looks
//!   radioactive almost always.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rayon::prelude::*;
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::WindowSet;
use tracemark_detect::calibration::{empirical_fpr, ks_valid};
use tracemark_embed::KgwBias;
use tracemark_model::{LanguageModel, Logits, ModelError, argmax};
use tracemark_radioactivity::{TupleSet, read_with_model, score_tuples};
use tracemark_tests::synthetic::{SyntheticModel, V, generate, logits};

const KEYS: usize = 300;

/// KGW γ = 0.25, LeftHash h = 2, with logit bias `delta`. The green lists do not depend on δ.
fn config(delta: f64) -> WatermarkConfig {
    WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(delta).unwrap(),
        },
        seeding: Seeding::new(SeedingKind::LeftHash, 2).unwrap(),
    }
}

fn secrets(seed: u64, n: usize) -> Vec<[u8; 32]> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            secret
        })
        .collect()
}

fn keys(seed: u64, n: usize) -> Vec<Key> {
    secrets(seed, n)
        .into_iter()
        .map(|s| Key::from_secret(s, config(2.0)))
        .collect()
}

fn p_value(key: &Key, tuples: &TupleSet) -> f64 {
    score_tuples(&Watermark::new(key), tuples, 0).test.p_value
}

fn assert_valid(label: &str, p: &[f64]) {
    let ks = ks_valid(p);
    let fpr05 = empirical_fpr(p, 0.05);
    let fpr01 = empirical_fpr(p, 0.01);
    eprintln!(
        "{label}: one-sided KS D+ = {:.3} p = {:.3}; FPR@0.05 = {}/{}; FPR@0.01 = {}/{}",
        ks.d, ks.p_value, fpr05.rejections, fpr05.trials, fpr01.rejections, fpr01.trials
    );
    assert!(
        ks.p_value >= 0.01,
        "{label}: p-values smaller than uniform: {ks:?}"
    );
    // The nominal rate must lie inside (or above) the 95% interval of the empirical one.
    assert!(
        fpr05.lower <= 0.05,
        "{label}: FPR at 0.05 too high: {fpr05:?}"
    );
    assert!(
        fpr01.lower <= 0.01,
        "{label}: FPR at 0.01 too high: {fpr01:?}"
    );
}

#[test]
fn reading_mode_is_valid_when_a_clean_model_reads_watermarked_text() {
    let p: Vec<f64> = keys(1, KEYS)
        .par_iter()
        .enumerate()
        .map(|(i, key)| {
            let text = generate(Some(key), i as u64, 200);
            let mut tuples = TupleSet::new(2);
            let mut model = SyntheticModel::default();
            read_with_model(&mut model, &text, &mut tuples, None).unwrap();
            p_value(key, &tuples)
        })
        .collect();
    assert_valid("reading, clean model", &p);
}

/// A model that absorbed the watermark: its top-1 is the synthetic model's argmax after the
/// green-list bias of `watermark` (a student trained on watermarked text, with a weaker δ).
struct AbsorbedModel {
    watermark: Watermark,
}

impl LanguageModel for AbsorbedModel {
    fn vocab_size(&self) -> usize {
        V
    }
    fn start(&mut self, _: &[u32]) -> Result<&[f32], ModelError> {
        Err(ModelError::Engine("not used".into()))
    }
    fn step(&mut self, _: u32) -> Result<&[f32], ModelError> {
        Err(ModelError::Engine("not used".into()))
    }
    fn score_all(&mut self, _: &[u32]) -> Result<Logits, ModelError> {
        Err(ModelError::Engine("not used".into()))
    }
    fn top1_all(&mut self, tokens: &[u32]) -> Result<Vec<u32>, ModelError> {
        let (mut row, mut bias) = (vec![0f32; V], KgwBias::new());
        Ok((0..tokens.len())
            .map(|i| {
                logits(&tokens[..=i], &mut row);
                bias.apply(&self.watermark, &tokens[..=i], &mut row, 0);
                argmax(&row)
            })
            .collect())
    }
    fn eog_tokens(&self) -> &[u32] {
        &[]
    }
    fn context_length(&self) -> Option<usize> {
        None
    }
    fn describe(&self) -> String {
        "synthetic model with an absorbed watermark".into()
    }
}

/// The absorbed bias of the student in the power test.
const STUDENT_DELTA: f64 = 1.5;

#[test]
fn reading_mode_flags_a_model_that_absorbed_the_watermark() {
    for (i, secret) in secrets(2, 3).into_iter().enumerate() {
        let key = Key::from_secret(secret, config(2.0));
        // Greedy top-1 moves only where the bias lifts a green token over the top one.
        let mut student = AbsorbedModel {
            watermark: Watermark::new(&Key::from_secret(secret, config(STUDENT_DELTA))),
        };
        let text = generate(Some(&key), 50 + i as u64, 600);
        let mut tuples = TupleSet::new(2);
        read_with_model(&mut student, &text, &mut tuples, None).unwrap();
        let test = score_tuples(&Watermark::new(&key), &tuples, 0).test;
        eprintln!(
            "absorbed δ={STUDENT_DELTA}, key {i}: log10 p = {:.1} over {} tuples",
            test.log10_p, test.scored
        );
        assert!(test.log10_p <= -6.0, "{test:?}");
    }
}

/// A clean suspect's answer to a watermarked prompt: its own text with a 100-token span of
/// the prompt quoted in the middle.
fn answer_copying(prompt: &[u32], seed: u64) -> Vec<u32> {
    let mut answer = generate(None, seed, 50);
    answer.extend_from_slice(&prompt[10..110]);
    answer.extend(generate(None, seed + 1, 50));
    answer
}

#[test]
fn prompt_window_exclusion_keeps_a_copying_clean_suspect_calibrated() {
    let results: Vec<(f64, f64)> = keys(3, KEYS)
        .par_iter()
        .enumerate()
        .map(|(i, key)| {
            let prompt = generate(Some(key), 10_000 + i as u64, 120);
            let answer = answer_copying(&prompt, 20_000 + 2 * i as u64);
            let mut windows = WindowSet::new(2);
            windows.extend_from(&prompt);
            let (mut on, mut off) = (TupleSet::new(2), TupleSet::new(2));
            on.add_answer(&answer, Some(&windows), None);
            off.add_answer(&answer, None, None);
            (p_value(key, &on), p_value(key, &off))
        })
        .collect();
    let (on, off): (Vec<f64>, Vec<f64>) = results.into_iter().unzip();
    assert_valid("closed, copied watermarked prompt, exclusion on", &on);
    let flagged = off.iter().filter(|&&p| p <= 1e-3).count();
    eprintln!("exclusion off: {flagged}/{KEYS} falsely radioactive at 1e-3");
    assert!(
        flagged * 10 >= KEYS * 9,
        "without the exclusion only {flagged}/{KEYS} were flagged"
    );
}
