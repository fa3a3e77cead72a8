//! The embedder end to end on a toy model, scored the way detection scores.

mod common;

use common::{gaussian_logits, key, kgw};
use tracemark_core::{Key, Scheme, SeedingKind, TokenScore, Watermark};
use tracemark_embed::{DEFAULT_SELFHASH_CANDIDATES, Embedder, KgwBias, Sampler, SamplingParams};

const V: usize = 1000;

/// A toy language model: the next-token logits are a fixed N(0, 3²) table row per previous token.
fn toy_logits(previous: u32) -> Vec<f32> {
    gaussian_logits(u64::from(previous) + 1_000, V, 3.0)
}

/// Generates `n` tokens after a three-token prompt; returns the whole sequence.
fn generate(embedder: &mut Embedder, n: usize) -> Vec<u32> {
    let mut tokens = vec![1, 2, 3];
    for _ in 0..n {
        let mut logits = toy_logits(*tokens.last().unwrap());
        let next = embedder.next_token(&tokens, &mut logits);
        tokens.push(next);
    }
    tokens
}

/// Mean score of the generated tokens (positions after the prompt), as detection computes it.
fn mean_score(wm: &Watermark, tokens: &[u32]) -> f64 {
    let scores: Vec<f64> = (3..tokens.len())
        .map(|i| {
            wm.score(wm.window(&tokens[..i]).unwrap(), tokens[i])
                .value()
        })
        .collect();
    scores.iter().sum::<f64>() / scores.len() as f64
}

#[test]
fn kgw_generation_is_mostly_green_and_the_baseline_is_not() {
    let key = key(1, kgw(0.25, 2.0), SeedingKind::LeftHash, 1);
    let wm = Watermark::new(&key);
    let params = SamplingParams::new(1.0, 0, 1.0, 7).unwrap();
    let marked = mean_score(&wm, &generate(&mut Embedder::new(Some(&key), params), 200));
    let plain = mean_score(&wm, &generate(&mut Embedder::new(None, params), 200));
    assert!(marked > 0.5, "green fraction with the watermark {marked}");
    // sd of a 200-token green fraction under H0 ≈ 0.031; allow 4 sd.
    assert!(
        (plain - 0.25).abs() < 0.125,
        "green fraction without the watermark {plain}"
    );
}

#[test]
fn kgw_selfhash_and_nucleus_sampling_also_embed() {
    let key = key(2, kgw(0.25, 2.0), SeedingKind::SelfHash, 3);
    let params = SamplingParams::new(0.7, 0, 0.95, 3).unwrap();
    let tokens = generate(&mut Embedder::new(Some(&key), params), 200);
    let green = mean_score(&Watermark::new(&key), &tokens);
    assert!(green > 0.5, "{green}");
}

#[test]
fn gumbel_generation_scores_high_and_the_baseline_does_not() {
    let key = key(3, Scheme::Gumbel, SeedingKind::LeftHash, 1);
    let wm = Watermark::new(&key);
    let params = SamplingParams::new(1.0, 0, 1.0, 5).unwrap();
    let marked = mean_score(&wm, &generate(&mut Embedder::new(Some(&key), params), 200));
    let plain = mean_score(&wm, &generate(&mut Embedder::new(None, params), 200));
    assert!(
        marked > 1.5,
        "mean Gumbel score with the watermark {marked}"
    );
    assert!(
        plain < 1.35,
        "mean Gumbel score without the watermark {plain}"
    );
}

#[test]
fn kgw_next_token_is_bias_then_sample() {
    let key = key(4, kgw(0.25, 2.0), SeedingKind::MinHash, 2);
    let wm = Watermark::new(&key);
    let params = SamplingParams::new(0.8, 50, 0.9, 11).unwrap();
    let mut embedder = Embedder::new(Some(&key), params);
    let (mut bias, mut sampler) = (KgwBias::new(), Sampler::new(params));
    let mut context = vec![9, 8];
    for _ in 0..50 {
        let original = toy_logits(*context.last().unwrap());
        let (mut a, mut b) = (original.clone(), original);
        let got = embedder.next_token(&context, &mut a);
        bias.apply(&wm, &context, &mut b, DEFAULT_SELFHASH_CANDIDATES);
        assert_eq!(got, sampler.sample(&b));
        assert_eq!(a, b, "the embedder biases the caller's logits in place");
        context.push(got);
    }
}

#[test]
fn accessors_describe_the_key_for_records() {
    let key: Key = key(5, kgw(0.25, 2.0), SeedingKind::SelfHash, 3);
    let params = SamplingParams::new(0.7, 0, 0.95, 1).unwrap();
    let e = Embedder::new(Some(&key), params).with_selfhash_candidates(8);
    assert_eq!(e.key_id(), Some(key.id()));
    assert_eq!(e.config(), Some(key.config()));
    assert_eq!(e.params(), &params);
    assert_eq!(e.selfhash_candidates(), 8);
    let plain = Embedder::new(None, params);
    assert!(plain.key_id().is_none() && plain.config().is_none() && plain.watermark().is_none());
    assert_eq!(plain.selfhash_candidates(), DEFAULT_SELFHASH_CANDIDATES);
    // The token matches a TokenScore the detector understands.
    let wm = Watermark::new(&key);
    assert!(matches!(wm.score(&[1, 2, 3], 4), TokenScore::Green(_)));
}
