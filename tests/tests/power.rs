//! Power: text sampled with the watermark from a synthetic next-token model is detected.
//!
//! The model is Zipf-like per context: the previous token picks a permutation of the
//! vocabulary and an exponent s ∈ [1.3, 2.6], and token of rank r gets logit −s·ln(r). Over
//! V = 49,152 that gives per-token entropies from about 1 to 4 nats (mean ≈ 2), in the range of
//! an instruction-tuned LLM sampled at temperature 1.

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::{Scorer, exact_test};
use tracemark_embed::{Embedder, SamplingParams};

const V: usize = 49_152;

/// splitmix64: a small deterministic hash for the model's per-context choices.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Logits of the synthetic model after `context`.
fn logits(context: &[u32], out: &mut [f32]) {
    let h = mix(u64::from(*context.last().unwrap_or(&0)));
    let s = 1.3 + 1.3 * ((h >> 40) as f64 / (1u64 << 24) as f64);
    // rank(v) = (a·v + b) mod V with gcd(a, V) = 1 (V = 2¹⁴·3): a permutation per context.
    let mut a = (mix(h) % V as u64) | 1;
    if a.is_multiple_of(3) {
        a += 2;
    }
    let b = mix(h ^ 1) % V as u64;
    for (v, logit) in out.iter_mut().enumerate() {
        let rank = (a * v as u64 + b) % V as u64;
        *logit = (-s * ((rank + 1) as f64).ln()) as f32;
    }
}

fn generate(key: Option<&Key>, seed: u64, len: usize) -> Vec<u32> {
    let params = SamplingParams::new(1.0, 0, 1.0, seed).unwrap();
    let mut embedder = Embedder::new(key, params);
    let mut context: Vec<u32> = (0..4).map(|i| (mix(seed ^ i) % V as u64) as u32).collect();
    let mut buf = vec![0f32; V];
    for _ in 0..len {
        logits(&context, &mut buf);
        let next = embedder.next_token(&context, &mut buf);
        context.push(next);
    }
    context.split_off(4)
}

fn log10_p(key: &Key, tokens: &[u32]) -> (f64, u64) {
    let wm = Watermark::new(key);
    let tally = Scorer::new(&wm, true).score(tokens, None, None, None);
    let r = exact_test(&key.config().scheme, &tally);
    (r.log10_p, r.scored)
}

fn check(config: WatermarkConfig) {
    let name = config.describe();
    for seed in 0..5u64 {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&mix(seed + 100).to_le_bytes());
        let key = Key::from_secret(secret, config);
        let marked = generate(Some(&key), seed, 200);
        let (lp, scored) = log10_p(&key, &marked);
        eprintln!("{name} seed {seed}: log10 p = {lp:.1} over {scored} tuples");
        assert!(
            lp <= -6.0,
            "{name} seed {seed}: watermarked text not detected at 200 tokens: log10 p = {lp}"
        );
        let plain = generate(None, seed, 200);
        let (lp0, _) = log10_p(&key, &plain);
        assert!(
            lp0 > -3.0,
            "{name} seed {seed}: unwatermarked text flagged: log10 p = {lp0}"
        );
    }
}

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
fn kgw_lefthash_detects_200_tokens_at_1e_minus_6() {
    check(kgw(SeedingKind::LeftHash, 1));
}

#[test]
fn kgw_selfhash_detects_200_tokens_at_1e_minus_6() {
    check(kgw(SeedingKind::SelfHash, 3));
}

#[test]
fn kgw_minhash_detects_200_tokens_at_1e_minus_6() {
    check(kgw(SeedingKind::MinHash, 4));
}

#[test]
fn gumbel_detects_200_tokens_at_1e_minus_6() {
    check(WatermarkConfig {
        scheme: Scheme::Gumbel,
        seeding: Seeding::new(SeedingKind::LeftHash, 2).unwrap(),
    });
}

#[test]
fn the_synthetic_model_has_llm_like_entropy() {
    let mut buf = vec![0f32; V];
    let mut total = 0.0;
    for t in 0..50u32 {
        logits(&[t], &mut buf);
        let max = buf.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let z: f64 = buf.iter().map(|&l| (l as f64 - max).exp()).sum();
        let h: f64 = buf
            .iter()
            .map(|&l| {
                let p = (l as f64 - max).exp() / z;
                if p > 0.0 { -p * p.ln() } else { 0.0 }
            })
            .sum();
        total += h;
    }
    let mean = total / 50.0;
    assert!((1.0..4.0).contains(&mean), "mean entropy {mean} nats");
}
