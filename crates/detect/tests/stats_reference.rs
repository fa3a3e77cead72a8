//! `tracemark_detect::stats` against independent references: mpmath at 60 digits
//! (`data/tails_mpmath.json`, written by `data/gen_tails_mpmath.py`) and, on random inputs,
//! statrs' regularized incomplete beta where that is itself accurate.
//!
//! Accuracy measure: |ln_ours − ln_ref| / max(1, |ln_ref|) ≤ 1e-9.

use serde_json::Value;
use statrs::function::beta::beta_reg;
use tracemark_detect::stats::{binomial_sf_ln, gamma_sf_ln, normal_sf_ln};

const TOL: f64 = 1e-9;

fn rel(ours: f64, reference: f64) -> f64 {
    (ours - reference).abs() / reference.abs().max(1.0)
}

/// Worst error seen and the cases over tolerance (NaN counts as over).
#[derive(Default)]
struct Tally {
    checked: usize,
    worst: (f64, String),
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, label: String, ours: f64, reference: f64) {
        let e = rel(ours, reference);
        self.checked += 1;
        if e.is_nan() || e > TOL {
            self.failures.push(format!(
                "{label}: ours {ours:e}, reference {reference:e}, error {e:.1e}"
            ));
        }
        if e > self.worst.0 {
            self.worst = (e, label);
        }
    }

    fn finish(self, what: &str, min_cases: usize) {
        println!(
            "{what}: {} cases, worst error {:.2e} at {}",
            self.checked, self.worst.0, self.worst.1
        );
        assert!(
            self.checked >= min_cases,
            "{what}: only {} cases",
            self.checked
        );
        assert!(
            self.failures.is_empty(),
            "{what}: off by more than {TOL}:\n{}",
            self.failures.join("\n")
        );
    }
}

fn reference_cases(family: &str) -> Vec<(Value, f64)> {
    let data: Value =
        serde_json::from_str(include_str!("data/tails_mpmath.json")).expect("valid JSON");
    let cases = data[family].as_array().expect("a list of cases");
    cases
        .iter()
        .map(|c| {
            let ln = c["ln_sf"]
                .as_str()
                .expect("ln_sf is a string")
                .parse()
                .expect("ln_sf parses");
            (c.clone(), ln)
        })
        .collect()
}

#[test]
fn binomial_matches_mpmath() {
    let mut tally = Tally::default();
    for (c, reference) in reference_cases("binomial") {
        let (k, n, p) = (
            c["k"].as_u64().unwrap(),
            c["n"].as_u64().unwrap(),
            c["p"].as_f64().unwrap(),
        );
        tally.check(
            format!("n={n} k={k} p={p}"),
            binomial_sf_ln(k, n, p),
            reference,
        );
    }
    tally.finish("binomial vs mpmath", 150);
}

#[test]
fn gamma_matches_mpmath() {
    let mut tally = Tally::default();
    for (c, reference) in reference_cases("gamma") {
        let (shape, x) = (c["shape"].as_f64().unwrap(), c["x"].as_f64().unwrap());
        tally.check(
            format!("shape={shape} x={x}"),
            gamma_sf_ln(shape, x),
            reference,
        );
    }
    tally.finish("gamma vs mpmath", 30);
}

#[test]
fn normal_matches_mpmath() {
    let mut tally = Tally::default();
    for (c, reference) in reference_cases("normal") {
        let z = c["z"].as_f64().unwrap();
        tally.check(format!("z={z}"), normal_sf_ln(z), reference);
    }
    tally.finish("normal vs mpmath", 8);
}

/// SplitMix64: a tiny deterministic generator, enough to sample test inputs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random (n, p, k) against statrs' I_p(k, n − k + 1) wherever statrs gives ≥ 1e-250. n stays
/// ≤ 20 000: beyond that statrs itself drifts (its continued fraction stops after 140 steps
/// and its ln Γ prefactor loses ~n·ε; ~1e-9 at n = 1e5, 0.3 at n = 1e7 near the mean).
#[test]
fn binomial_matches_statrs_on_random_inputs() {
    let mut rng = SplitMix64(0x7ace_3a4c_0de5_eed5);
    let mut tally = Tally::default();
    for _ in 0..20_000 {
        let n = 20_000f64.powf(rng.unit()).round() as u64;
        // Half uniform, half log-uniform down to 1e-6 (small γ and rare events).
        let p = if rng.unit() < 0.5 {
            rng.unit()
        } else {
            10f64.powf(-6.0 * rng.unit())
        };
        let p = p.clamp(1e-9, 1.0 - 1e-9);
        let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
        // Half anywhere in 1..=n, half within [−5, +40] standard deviations of the mean.
        let k = if rng.unit() < 0.5 {
            1 + (rng.unit() * n as f64) as u64
        } else {
            (mean + sd * (45.0 * rng.unit() - 5.0)).round().max(1.0) as u64
        }
        .min(n);
        let v = beta_reg(k as f64, (n - k + 1) as f64, p);
        if v >= 1e-250 {
            tally.check(
                format!("n={n} k={k} p={p}"),
                binomial_sf_ln(k, n, p),
                v.ln(),
            );
        }
    }
    tally.finish("binomial vs statrs beta_reg", 10_000);
}
