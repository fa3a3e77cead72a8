//! Power: text sampled with the watermark from a synthetic next-token model
//! (`tracemark_tests::synthetic`) is detected.

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::{Scorer, exact_test};
use tracemark_tests::synthetic::{V, generate, logits, mix};

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
