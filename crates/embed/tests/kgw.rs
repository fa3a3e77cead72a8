//! KGW bias: bit-for-bit agreement with detection's `Watermark::score`.

mod common;

use common::{gaussian_logits, key, kgw};
use tracemark_core::{Scheme, SeedingKind, TokenScore, Watermark};
use tracemark_embed::{BiasStats, KgwBias, apply_kgw_bias};

const V: usize = 49_152;

fn is_green(wm: &Watermark, window: &[u32], token: u32) -> bool {
    wm.score(window, token) == TokenScore::Green(true)
}

/// After the bias, every logit is either bit-identical or exactly `original + δ`, and it is
/// the latter iff detection scores the token green.
fn assert_bias_matches_detection(
    wm: &Watermark,
    context: &[u32],
    original: &[f32],
    biased: &[f32],
) -> usize {
    let window = wm.window(context).unwrap();
    let delta = match wm.config().scheme {
        Scheme::Kgw { delta, .. } => delta.get(),
        Scheme::Gumbel => unreachable!(),
    };
    let mut green = 0;
    for (v, (&o, &b)) in original.iter().zip(biased).enumerate() {
        if is_green(wm, window, v as u32) {
            assert_eq!(b.to_bits(), (o + delta).to_bits(), "token {v} is green");
            green += 1;
        } else {
            assert_eq!(b.to_bits(), o.to_bits(), "token {v} is not green");
        }
    }
    green
}

#[test]
fn lefthash_and_minhash_bias_agrees_with_detection_bit_for_bit() {
    let original = gaussian_logits(1, V, 3.0);
    let context = [5, 900, 31_337, 12, 48_000];
    let mut bias = KgwBias::new();
    for (kind, h, gamma) in [
        (SeedingKind::LeftHash, 1, 0.25),
        (SeedingKind::LeftHash, 0, 0.1),
        (SeedingKind::MinHash, 3, 0.5),
    ] {
        let wm = Watermark::new(&key(1, kgw(gamma, 2.0), kind, h));
        let mut logits = original.clone();
        let stats = bias.apply(&wm, &context, &mut logits, 40);
        let green = assert_bias_matches_detection(&wm, &context, &original, &logits);
        assert_eq!(
            stats,
            BiasStats {
                considered: V,
                green
            },
            "{kind:?}"
        );
        // sd of the green count is sqrt(γ(1−γ)V) ≤ 111; allow 6 sd.
        assert!(
            (green as f64 - gamma * V as f64).abs() < 670.0,
            "{kind:?}: {green}"
        );
    }
}

#[test]
fn selfhash_biases_only_self_green_top_candidates() {
    let wm = Watermark::new(&key(2, kgw(0.25, 2.0), SeedingKind::SelfHash, 3));
    let mut bias = KgwBias::new();
    let mut total_green = 0;
    for step in 0..20u32 {
        let mut original = gaussian_logits(u64::from(step), 1000, 2.0);
        original[17] = original[3]; // a tie, broken by the lower id
        let context = [step, 7, 8, step * 31];
        let window = wm.window(&context).unwrap();
        let mut order: Vec<u32> = (0..1000).collect();
        order.sort_by(|&a, &b| {
            original[b as usize]
                .total_cmp(&original[a as usize])
                .then(a.cmp(&b))
        });
        let top: Vec<u32> = order[..40].to_vec();

        let mut logits = original.clone();
        let stats = bias.apply(&wm, &context, &mut logits, 40);
        let mut green = 0;
        for v in 0..1000u32 {
            let (o, b) = (original[v as usize], logits[v as usize]);
            if top.contains(&v) && is_green(&wm, window, v) {
                assert_eq!(b.to_bits(), (o + 2.0).to_bits(), "step {step} token {v}");
                green += 1;
            } else {
                assert_eq!(b.to_bits(), o.to_bits(), "step {step} token {v}");
            }
        }
        assert_eq!(
            stats,
            BiasStats {
                considered: 40,
                green
            }
        );
        total_green += green;
    }
    // About a quarter of 800 candidates; the check is not vacuous.
    assert!((120..280).contains(&total_green), "{total_green}");
}

#[test]
fn selfhash_with_no_green_candidate_leaves_logits_unchanged() {
    let wm = Watermark::new(&key(3, kgw(0.05, 2.0), SeedingKind::SelfHash, 2));
    let original = gaussian_logits(9, 500, 2.0);
    let top2 = {
        let mut order: Vec<u32> = (0..500).collect();
        order.sort_by(|&a, &b| original[b as usize].total_cmp(&original[a as usize]));
        [order[0], order[1]]
    };
    let mut found = 0;
    for i in 0..200u32 {
        let context = [i, i + 1];
        let window = wm.window(&context).unwrap();
        if top2.iter().any(|&c| is_green(&wm, window, c)) {
            continue;
        }
        found += 1;
        let mut logits = original.clone();
        let stats = apply_kgw_bias(&wm, &context, &mut logits, 2);
        assert_eq!(
            stats,
            BiasStats {
                considered: 2,
                green: 0
            }
        );
        assert!(
            logits
                .iter()
                .zip(&original)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    assert!(found > 100, "{found}"); // P(no green of 2) = 0.9025
}

#[test]
fn short_contexts_and_gumbel_keys_leave_logits_unchanged() {
    let original = gaussian_logits(4, 1000, 3.0);
    let cases = [
        (key(4, kgw(0.25, 2.0), SeedingKind::LeftHash, 3), vec![1, 2]),
        (key(4, kgw(0.25, 2.0), SeedingKind::SelfHash, 3), vec![]),
        (
            key(4, Scheme::Gumbel, SeedingKind::LeftHash, 1),
            vec![1, 2, 3],
        ),
    ];
    for (key, context) in cases {
        let mut logits = original.clone();
        let stats = apply_kgw_bias(&Watermark::new(&key), &context, &mut logits, 40);
        assert_eq!(stats, BiasStats::default());
        assert!(
            logits
                .iter()
                .zip(&original)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}

#[test]
fn sequential_fill_matches_random_access_for_any_length() {
    // The bias reads words through `Seed::fill`; detection reads them through `Seed::word`.
    let wm = Watermark::new(&key(5, kgw(0.25, 2.0), SeedingKind::LeftHash, 1));
    let seed = wm.step_seed(&[77]).unwrap();
    for n in [1, 15, 16, 63, 64, 65, 1000, 4097] {
        let mut words = vec![0u32; n];
        seed.fill(&mut words);
        for (i, &w) in words.iter().enumerate() {
            assert_eq!(w, seed.word(i as u32), "length {n}, word {i}");
        }
    }
}
