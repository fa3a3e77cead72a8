//! Gumbel-max: deterministic per context, high detection scores, distortion-free over keys.

mod common;

use common::{CHI2_CRIT_001, chi_square, gaussian_logits, key, key_from, secret_bytes};
use tracemark_core::prf::ln_uniform;
use tracemark_core::{Scheme, SeedingKind, Watermark};
use tracemark_embed::{Sampler, SamplingParams, argmax, filtered_distribution, gumbel_choose};

fn sampler(temperature: f32, top_k: usize, top_p: f32, seed: u64) -> Sampler {
    Sampler::new(SamplingParams::new(temperature, top_k, top_p, seed).unwrap())
}

fn gumbel(secret: u8, kind: SeedingKind, h: usize) -> Watermark {
    Watermark::new(&key(secret, Scheme::Gumbel, kind, h))
}

#[test]
fn the_choice_is_deterministic_given_the_context() {
    let wm = gumbel(1, SeedingKind::LeftHash, 2);
    let logits = gaussian_logits(1, 5000, 2.0);
    let mut distinct = std::collections::HashSet::new();
    for i in 0..50u32 {
        let context = [3, i, i + 9];
        // The sampler's RNG plays no part once the context is long enough.
        let a = gumbel_choose(&wm, &context, &logits, &mut sampler(1.0, 0, 0.95, 1));
        let b = gumbel_choose(&wm, &context, &logits, &mut sampler(1.0, 0, 0.95, 99));
        assert_eq!(a, b);
        distinct.insert(a);
    }
    assert!(
        distinct.len() > 10,
        "the choice should depend on the context"
    );
}

/// Reference: argmax of ln(u_v)/p_v over the filtered distribution, each word read by
/// random access exactly as detection reads it.
fn reference(wm: &Watermark, context: &[u32], logits: &[f32], params: &SamplingParams) -> u32 {
    let window = wm.window(context).unwrap();
    let score = |&(v, p): &(u32, f64)| (ln_uniform(wm.tuple_seed(window, v).word(v)) / p, v);
    let best = filtered_distribution(logits, params)
        .iter()
        .map(score)
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    best.unwrap().1
}

#[test]
fn every_word_path_matches_a_direct_reference() {
    // Small kept sets read words by random access, large ones fill the whole vocabulary,
    // SelfHash derives a seed per token; all must pick the reference's token.
    // V = 6400: more than V/64 = 100 kept tokens takes the fill path.
    let logits = gaussian_logits(2, 6400, 2.0);
    for (kind, h) in [
        (SeedingKind::LeftHash, 1),
        (SeedingKind::MinHash, 2),
        (SeedingKind::SelfHash, 1),
    ] {
        let wm = gumbel(2, kind, h);
        for (t, k, p) in [(1.0, 10, 1.0), (1.0, 0, 0.9), (3.0, 0, 1.0)] {
            let params = SamplingParams::new(t, k, p, 0).unwrap();
            for i in 0..3u32 {
                let context = [i, 40 + i];
                let got = gumbel_choose(&wm, &context, &logits, &mut Sampler::new(params));
                assert_eq!(
                    got,
                    reference(&wm, &context, &logits, &params),
                    "{kind:?} T={t} k={k} p={p}"
                );
            }
        }
    }
}

#[test]
fn chosen_tokens_score_high() {
    let wm = gumbel(3, SeedingKind::LeftHash, 1);
    let (mut chosen, mut other, n) = (0.0, 0.0, 300);
    for i in 0..n {
        let logits = gaussian_logits(u64::from(i), 1000, 1.0);
        let token = gumbel_choose(&wm, &[i], &logits, &mut sampler(1.0, 0, 1.0, 0));
        chosen += wm.score(&[i], token).value();
        other += wm.score(&[i], (token + 1) % 1000).value();
    }
    // Under H0 the score is Exp(1): mean 1, sd of a 300-mean ≈ 0.06.
    let (chosen, other) = (chosen / f64::from(n), other / f64::from(n));
    assert!(chosen > 2.0, "mean score of chosen tokens {chosen}");
    assert!(
        (other - 1.0).abs() < 0.35,
        "mean score of other tokens {other}"
    );
}

#[test]
fn the_output_is_distortion_free_over_keys() {
    let p = [0.4, 0.3, 0.15, 0.1, 0.05];
    let logits: Vec<f32> = p.iter().map(|&p: &f64| p.ln() as f32).collect();
    for (kind, h) in [(SeedingKind::LeftHash, 1), (SeedingKind::SelfHash, 2)] {
        let mut counts = [0u64; 5];
        let mut s = sampler(1.0, 0, 1.0, 0);
        for i in 0..20_000u64 {
            let wm = Watermark::new(&key_from(secret_bytes(i), Scheme::Gumbel, kind, h));
            counts[gumbel_choose(&wm, &[11, 12], &logits, &mut s) as usize] += 1;
        }
        let chi2 = chi_square(&counts, &p);
        assert!(
            chi2 < CHI2_CRIT_001[3],
            "{kind:?}: chi2 {chi2}, counts {counts:?}"
        );
    }
}

#[test]
fn short_contexts_sample_and_temperature_zero_is_greedy() {
    let wm = gumbel(4, SeedingKind::LeftHash, 3);
    let logits = gaussian_logits(4, 1000, 2.0);
    for seed in 0..20 {
        let got = gumbel_choose(&wm, &[1, 2], &logits, &mut sampler(1.0, 0, 0.9, seed));
        assert_eq!(got, sampler(1.0, 0, 0.9, seed).sample(&logits));
    }
    let got = gumbel_choose(&wm, &[1, 2, 3, 4], &logits, &mut sampler(0.0, 0, 1.0, 0));
    assert_eq!(got, argmax(&logits));
}
