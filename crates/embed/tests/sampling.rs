//! Sampler and filtering: greedy, top-k, the minimal nucleus, frequencies, determinism,
//! validation, non-finite logits, and agreement with a sort-everything reference.

mod common;

use common::{CHI2_CRIT_001, chi_square, gaussian_logits};
use tracemark_embed::{EmbedError, Sampler, SamplingParams, argmax, filtered_distribution};

fn params(temperature: f32, top_k: usize, top_p: f32) -> SamplingParams {
    SamplingParams::new(temperature, top_k, top_p, 1).unwrap()
}

fn counts(sampler: &mut Sampler, logits: &[f32], n: usize) -> Vec<u64> {
    let mut counts = vec![0u64; logits.len()];
    for _ in 0..n {
        counts[sampler.sample(logits) as usize] += 1;
    }
    counts
}

#[test]
fn temperature_zero_is_argmax_with_the_lowest_id_on_ties() {
    let logits = [1.0, 5.0, f32::NAN, 5.0, 2.0];
    let mut greedy = Sampler::new(SamplingParams::greedy());
    assert!((0..20).all(|_| greedy.sample(&logits) == 1));
    assert_eq!(
        filtered_distribution(&logits, &SamplingParams::greedy()),
        vec![(1, 1.0)]
    );

    let big = gaussian_logits(3, 49_152, 3.0);
    let want = (0..big.len())
        .max_by(|&a, &b| big[a].total_cmp(&big[b]).then(b.cmp(&a)))
        .unwrap();
    assert_eq!(argmax(&big), want as u32);
    assert_eq!(Sampler::new(params(0.0, 50, 0.5)).sample(&big), want as u32);
}

#[test]
fn top_k_one_is_argmax() {
    let big = gaussian_logits(4, 49_152, 3.0);
    let mut sampler = Sampler::new(params(1.5, 1, 1.0));
    for _ in 0..20 {
        assert_eq!(sampler.sample(&big), argmax(&big));
    }
    let tied = [0.0, 3.0, 1.0, 3.0];
    assert_eq!(
        filtered_distribution(&tied, &params(1.0, 1, 1.0)),
        vec![(1, 1.0)]
    );
}

#[test]
fn top_p_keeps_the_minimal_nucleus() {
    // Probabilities 0.5, 0.2, 0.15, 0.1, 0.05 placed at ids 3, 0, 4, 1, 2.
    let p = [0.2f64, 0.1, 0.05, 0.5, 0.15];
    let logits: Vec<f32> = p.iter().map(|&p| p.ln() as f32).collect();
    for (top_p, want) in [
        (0.45, vec![3]),
        (0.69, vec![0, 3]),
        (0.71, vec![0, 3, 4]),
        (0.86, vec![0, 1, 3, 4]),
    ] {
        let kept = filtered_distribution(&logits, &params(1.0, 0, top_p));
        let mut ids: Vec<u32> = kept.iter().map(|&(t, _)| t).collect();
        ids.sort_unstable();
        assert_eq!(ids, want, "top_p {top_p}");
        let mass: f64 = want.iter().map(|&t| p[t as usize]).sum();
        for &(t, q) in &kept {
            assert!(
                (q - p[t as usize] / mass).abs() < 1e-6,
                "top_p {top_p}: {t} {q}"
            );
        }
    }
}

#[test]
fn sampling_frequencies_match_softmax() {
    let logits = [2.0f32, 1.0, 0.5, 0.0, -1.0, -3.0];
    let softmax = |t: f64, keep: usize| {
        let w: Vec<f64> = logits
            .iter()
            .take(keep)
            .map(|&l| (f64::from(l) / t).exp())
            .collect();
        let z: f64 = w.iter().sum();
        w.iter().map(|w| w / z).collect::<Vec<_>>()
    };
    let n = 60_000;
    let c = counts(&mut Sampler::new(params(1.0, 0, 1.0)), &logits, n);
    let chi2 = chi_square(&c, &softmax(1.0, 6));
    assert!(chi2 < CHI2_CRIT_001[4], "chi2 {chi2}, counts {c:?}");

    // Temperature 0.7 and top-k 4: the last two never appear; the rest renormalise.
    let c = counts(&mut Sampler::new(params(0.7, 4, 1.0)), &logits, n);
    assert_eq!(c[4] + c[5], 0);
    let chi2 = chi_square(&c[..4], &softmax(0.7, 4));
    assert!(chi2 < CHI2_CRIT_001[2], "chi2 {chi2}, counts {c:?}");
}

#[test]
fn frequencies_match_softmax_across_blocks_of_a_large_vocabulary() {
    // Mass on six tokens spread over four 256-token blocks; the rest is −∞ or far below.
    let ids = [5usize, 255, 256, 511, 700, 999];
    let values = [1.0f32, 0.0, 2.0, -0.5, 0.5, 1.5];
    for (fill, top_p) in [(f32::NEG_INFINITY, 1.0), (-200.0, 1.0), (-200.0, 0.9999)] {
        let mut logits = vec![fill; 1000];
        for (&i, &v) in ids.iter().zip(&values) {
            logits[i] = v;
        }
        let c = counts(&mut Sampler::new(params(1.0, 0, top_p)), &logits, 20_000);
        let w: Vec<f64> = values.iter().map(|&v| f64::from(v).exp()).collect();
        let z: f64 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|w| w / z).collect();
        let hits: Vec<u64> = ids.iter().map(|&i| c[i]).collect();
        assert_eq!(
            hits.iter().sum::<u64>(),
            20_000,
            "only the six tokens are drawn"
        );
        let chi2 = chi_square(&hits, &p);
        assert!(chi2 < CHI2_CRIT_001[4], "chi2 {chi2}, counts {hits:?}");
    }
}

#[test]
fn the_same_seed_gives_the_same_sequence() {
    let logits = gaussian_logits(5, 1000, 2.0);
    let run = |seed| {
        let mut s = Sampler::new(SamplingParams::new(0.9, 0, 0.95, seed).unwrap());
        (0..100).map(|_| s.sample(&logits)).collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn invalid_params_are_rejected_with_clear_messages() {
    for t in [-0.1, f32::NAN, f32::INFINITY] {
        let err = SamplingParams::new(t, 0, 1.0, 0).unwrap_err();
        assert!(
            matches!(&err, EmbedError::InvalidSampling(m) if m.contains("temperature")),
            "{err}"
        );
    }
    for p in [0.0, -0.5, 1.01, f32::NAN] {
        let err = SamplingParams::new(1.0, 0, p, 0).unwrap_err();
        assert!(err.to_string().contains("top_p"), "{err}");
    }
    assert!(SamplingParams::new(0.0, 0, 1.0, 0).unwrap().is_greedy());
    assert!(SamplingParams::new(0.7, 40, 0.95, 1).is_ok());
}

#[test]
fn non_finite_logits_are_handled() {
    let ninf = f32::NEG_INFINITY;
    let logits = [ninf, 1.0, f32::NAN, 0.5, ninf];
    for p in [
        params(1.0, 0, 1.0),
        params(1.0, 3, 0.9),
        params(0.5, 0, 0.99),
    ] {
        let kept = filtered_distribution(&logits, &p);
        assert!(
            kept.iter()
                .all(|&(t, q)| (t == 1 || t == 3) && q > 0.0 && q.is_finite())
        );
        assert!((kept.iter().map(|&(_, q)| q).sum::<f64>() - 1.0).abs() < 1e-12);
        let c = counts(&mut Sampler::new(p), &logits, 2000);
        assert_eq!(c[0] + c[2] + c[4], 0, "{c:?}");
    }
    // All −∞ or NaN: token 0. Some +∞: they share the mass.
    assert_eq!(
        filtered_distribution(&[ninf, f32::NAN, ninf], &params(1.0, 0, 1.0)),
        vec![(0, 1.0)]
    );
    let inf = [0.0, f32::INFINITY, 3.0, f32::INFINITY];
    let mut kept = filtered_distribution(&inf, &params(1.0, 0, 1.0));
    kept.sort_by_key(|&(t, _)| t);
    assert_eq!(kept, vec![(1, 0.5), (3, 0.5)]);
    let c = counts(&mut Sampler::new(params(1.0, 0, 1.0)), &inf, 4000);
    assert!(c[0] + c[2] == 0 && c[1].abs_diff(c[3]) < 400, "{c:?}");
}

#[test]
fn ties_are_broken_by_token_id() {
    let flat = [0.5f32; 10];
    let ids = |p: SamplingParams| {
        let mut ids: Vec<u32> = filtered_distribution(&flat, &p)
            .iter()
            .map(|&(t, _)| t)
            .collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids(params(1.0, 3, 1.0)), vec![0, 1, 2]);
    assert_eq!(ids(params(1.0, 0, 0.25)), vec![0, 1, 2]);
    assert_eq!(ids(params(1.0, 4, 0.6)), vec![0, 1, 2]);
}

/// Reference: sort everything in f64, take top-k by (logit desc, id asc), then order by
/// (probability desc, id asc). Returns that order with weights, and the range of nucleus sizes
/// whose prefix mass is within 1e-6 of top_p, where f32 rounding may decide either way.
fn reference(logits: &[f32], p: &SamplingParams) -> (Vec<(u32, f64)>, usize, usize) {
    let key = |l: f32| {
        if l.is_nan() {
            f64::NEG_INFINITY
        } else {
            f64::from(l)
        }
    };
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    ids.sort_by(|&a, &b| {
        key(logits[b as usize])
            .total_cmp(&key(logits[a as usize]))
            .then(a.cmp(&b))
    });
    if p.top_k() > 0 {
        ids.truncate(p.top_k());
    }
    let m = key(logits[ids[0] as usize]);
    let t = f64::from(p.temperature());
    // Like the sampler, treat probabilities below 2⁻¹²⁵ of the largest as 0.
    let floor = -125.0 * std::f64::consts::LN_2;
    let w = |i: u32| {
        Some((key(logits[i as usize]) - m) / t)
            .filter(|&x| x >= floor)
            .map_or(0.0, f64::exp)
    };
    let order: Vec<(u32, f64)> = ids
        .iter()
        .map(|&i| (i, w(i)))
        .filter(|&(_, w)| w > 0.0)
        .collect();
    let z: f64 = order.iter().map(|&(_, w)| w).sum();
    let (target, tol) = (f64::from(p.top_p()), 1e-6);
    if target >= 1.0 {
        return (order.clone(), order.len(), order.len());
    }
    let mut cum = 0.0;
    let (mut lo, mut hi) = (None, None);
    for (n, &(_, w)) in order.iter().enumerate() {
        cum += w / z;
        if cum >= target - tol && lo.is_none() {
            lo = Some(n + 1);
        }
        if cum >= target + tol && hi.is_none() {
            hi = Some(n + 1);
        }
    }
    (
        order.clone(),
        lo.unwrap_or(order.len()),
        hi.unwrap_or(order.len()),
    )
}

#[test]
fn filtering_matches_a_sort_everything_reference() {
    let mut seed = 100;
    for v in [7usize, 300, 5000, 49_152] {
        for sd in [0.3, 3.0, 12.0] {
            for (t, top_k, top_p) in [
                (1.0, 0, 1.0),
                (0.7, 0, 0.95),
                (1.0, 0, 0.5),
                (2.0, 0, 0.999),
                (1.0, 0, 0.99),
                (2.0, 0, 0.99999),
                (0.5, 5, 0.9),
                (1.3, 1000, 0.97),
                (1.0, 40, 1.0),
            ] {
                seed += 1;
                let mut logits = gaussian_logits(seed, v, sd);
                if sd == 0.3 && v > 1000 {
                    // A heavy tail: ten tokens at 12 hold ~97% of the mass, so the nucleus for
                    // top-p 0.99 reaches far down.
                    logits[..10].fill(12.0);
                }
                let p = params(t, top_k, top_p);
                let (order, lo, hi) = reference(&logits, &p);
                let mut got = filtered_distribution(&logits, &p);
                let n = got.len();
                let case =
                    format!("V={v} sd={sd} T={t} k={top_k} p={top_p}: {n} kept, want {lo}..={hi}");
                assert!((lo..=hi).contains(&n), "{case}");
                let mut want = order[..n].to_vec();
                let zk: f64 = want.iter().map(|&(_, w)| w).sum();
                got.sort_by_key(|&(t, _)| t);
                want.sort_by_key(|&(t, _)| t);
                for (&(gt, gp), &(wt, w)) in got.iter().zip(&want) {
                    assert_eq!(gt, wt, "{case}");
                    let wp = w / zk;
                    assert!(
                        (gp - wp).abs() <= 3e-5 * wp + 1e-12,
                        "{case}: token {gt} {gp} vs {wp}"
                    );
                }
            }
        }
    }
}
