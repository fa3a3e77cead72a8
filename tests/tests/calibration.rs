//! Calibration under H0: for a fixed human-written text and many random keys, reported
//! p-values must be uniform and the empirical false-positive rate must not exceed the nominal.
//!
//! Uniformity is checked with a two-sided KS test on a p-value that is exactly uniform under
//! H0: the Gumbel p-value itself, and for KGW the randomized binomial p-value (the reported
//! binomial p-value is conservative and has steps that a two-sided test would flag). The
//! reported p-value must pass the one-sided KS test for validity and the FPR bound.
//!
//! The text is real and freely licensed: the GNU GPL v3 and the Apache License 2.0 as Debian
//! ships them in /usr/share/common-licenses (package base-files, on every Debian system).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::calibration::{empirical_fpr, ks_uniform, ks_valid, randomized_binomial_p};
use tracemark_detect::{Scorer, TokenStatus, exact_test, window};
use tracemark_io::TextTokenizer;

/// Enough keys that a valid test exceeds FPR 1.5e-2 at 1e-2 with probability below 0.1%.
const KEYS: usize = 4000;

fn human_text(name: &str) -> String {
    let path = format!("/usr/share/common-licenses/{name}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (Debian's base-files provides it)"))
}

fn tokens(text: &str) -> Vec<u32> {
    TextTokenizer::default_model()
        .unwrap()
        .encode(text)
        .unwrap()
        .ids
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

fn gumbel(kind: SeedingKind, h: usize) -> WatermarkConfig {
    WatermarkConfig {
        scheme: Scheme::Gumbel,
        seeding: Seeding::new(kind, h).unwrap(),
    }
}

/// Random keys from a fixed seed, so the test is deterministic.
fn random_watermarks(config: WatermarkConfig, seed: u64, keys: usize) -> Vec<Watermark> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..keys)
        .map(|_| {
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            Watermark::new(&Key::from_secret(secret, config))
        })
        .collect()
}

/// Per key: the reported p-value and one that is exactly uniform under H0.
struct Calibration {
    reported: Vec<f64>,
    uniform: Vec<f64>,
}

fn calibrate(tokens: &[u32], config: WatermarkConfig, dedup: bool) -> Calibration {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let (mut reported, mut uniform) = (Vec::new(), Vec::new());
    for wm in random_watermarks(config, 7, KEYS) {
        let tally = Scorer::new(&wm, dedup).score(tokens, None, None, None);
        let r = exact_test(&config.scheme, &tally);
        reported.push(r.p_value);
        uniform.push(match config.scheme {
            Scheme::Kgw { gamma, .. } => {
                let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                randomized_binomial_p(tally.green, tally.scored, gamma.effective(), v)
            }
            Scheme::Gumbel => r.p_value,
        });
    }
    Calibration { reported, uniform }
}

fn assert_calibrated(label: &str, c: &Calibration) {
    let ks = ks_uniform(&c.uniform);
    let valid = ks_valid(&c.reported);
    let fpr = empirical_fpr(&c.reported, 1e-2);
    eprintln!(
        "{label}: KS D = {:.4} p = {:.3}; one-sided D+ = {:.4} p = {:.3}; FPR@1e-2 = {}/{}",
        ks.d, ks.p_value, valid.d, valid.p_value, fpr.rejections, fpr.trials
    );
    assert!(
        ks.p_value >= 0.01,
        "{label}: p-values are not uniform: {ks:?}"
    );
    assert!(
        valid.p_value >= 0.01,
        "{label}: small p-values are too frequent: {valid:?}"
    );
    assert!(
        fpr.rate <= 1.5e-2,
        "{label}: FPR {} exceeds 1.5e-2",
        fpr.rate
    );
}

/// Runs `check` for each config on two threads (CI has two cores).
fn for_each_config(
    configs: Vec<(String, WatermarkConfig)>,
    check: impl Fn(&str, WatermarkConfig) + Sync,
) {
    let check = &check;
    let (even, odd): (Vec<_>, Vec<_>) = configs
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    std::thread::scope(|s| {
        for half in [even, odd] {
            s.spawn(move || {
                half.into_iter()
                    .for_each(|(_, (label, config))| check(&label, config))
            });
        }
    });
}

#[test]
fn p_values_are_uniform_on_human_text_for_every_scheme() {
    let text = human_text("GPL-3");
    let ids = tokens(&text);
    assert!(ids.len() > 5000, "{}", ids.len());
    let ids = &ids[..2000];
    let configs = vec![
        (
            "kgw lefthash h=1".to_string(),
            kgw(SeedingKind::LeftHash, 1),
        ),
        (
            "kgw selfhash h=3".to_string(),
            kgw(SeedingKind::SelfHash, 3),
        ),
        ("kgw minhash h=4".to_string(), kgw(SeedingKind::MinHash, 4)),
        ("kgw unigram h=0".to_string(), kgw(SeedingKind::LeftHash, 0)),
        (
            "gumbel lefthash h=2".to_string(),
            gumbel(SeedingKind::LeftHash, 2),
        ),
        (
            "gumbel selfhash h=3".to_string(),
            gumbel(SeedingKind::SelfHash, 3),
        ),
    ];
    for_each_config(configs, |label, config| {
        assert_calibrated(label, &calibrate(ids, config, true))
    });
}

/// A paragraph pasted many times, as boilerplate is: every tuple repeats.
fn repetitive_tokens() -> Vec<u32> {
    let text = human_text("Apache-2.0");
    let paragraph: String = text.chars().skip(2000).take(1200).collect();
    tokens(&paragraph.repeat(8))
}

#[test]
fn without_dedup_repetitive_text_is_miscalibrated_and_dedup_fixes_it() {
    let ids = repetitive_tokens();
    let configs = [
        kgw(SeedingKind::LeftHash, 1),
        gumbel(SeedingKind::LeftHash, 2),
    ]
    .into_iter()
    .map(|c| (c.describe(), c))
    .collect();
    for_each_config(configs, |name, config| {
        let raw = calibrate(&ids, config, false).reported;
        let ks = ks_valid(&raw);
        let fpr = empirical_fpr(&raw, 1e-2);
        eprintln!(
            "{name} no dedup: one-sided KS p = {:.2e}; FPR@1e-2 = {}",
            ks.p_value, fpr.rate
        );
        // Eight copies multiply the variance of the statistic by eight: far too many false alarms.
        assert!(
            fpr.lower > 5e-2,
            "{name}: expected gross miscalibration without dedup: {fpr:?}"
        );
        assert!(ks.p_value < 1e-6, "{name}: {ks:?}");
        assert_calibrated(&format!("{name} dedup"), &calibrate(&ids, config, true));
    });
}

#[test]
fn windowed_scan_p_values_stay_valid_after_correction() {
    let text = human_text("GPL-3");
    let ids = &tokens(&text)[..3000];
    let config = kgw(SeedingKind::LeftHash, 1);
    let ps: Vec<f64> = random_watermarks(config, 11, 1000)
        .iter()
        .map(|wm| {
            let mut statuses = Vec::new();
            Scorer::new(wm, true).score(ids, None, None, Some(&mut statuses));
            let (values, positions): (Vec<f64>, Vec<usize>) = statuses
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    TokenStatus::Scored(s) => Some((s.value(), i)),
                    TokenStatus::Skipped(_) => None,
                })
                .unzip();
            window::scan(&config.scheme, &values, &positions, 16).p_value
        })
        .collect();
    for alpha in [1e-2, 5e-2, 1e-1] {
        let fpr = empirical_fpr(&ps, alpha);
        eprintln!(
            "window scan: FPR@{alpha} = {}/{}",
            fpr.rejections, fpr.trials
        );
        assert!(fpr.rate <= alpha * 1.5, "{fpr:?}");
    }
}
