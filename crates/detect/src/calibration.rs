//! Checks that p-values behave as p-values: uniformity (Kolmogorov–Smirnov) and empirical
//! false-positive rates with exact binomial confidence bounds.
//!
//! Used by the test suite (p-values of many random keys on fixed text must be uniform) and by
//! the random-key controls of radioactivity verdicts.

use serde::Serialize;

/// One-sample KS test of p-values against Uniform(0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KsTest {
    /// Sample size.
    pub n: usize,
    /// sup |F_n(t) − t|.
    pub d: f64,
    /// Asymptotic p-value of D (Kolmogorov distribution with Stephens' small-sample correction).
    pub p_value: f64,
}

/// KS test of `p_values` against the uniform distribution. An empty sample gives p = 1.
pub fn ks_uniform(p_values: &[f64]) -> KsTest {
    let (above, below) = ks_distances(p_values);
    let d = above.max(below);
    let sqrt_n = (p_values.len() as f64).sqrt();
    let lambda = (sqrt_n + 0.12 + 0.11 / sqrt_n) * d;
    let p_value = if p_values.is_empty() {
        1.0
    } else {
        kolmogorov_sf(lambda)
    };
    KsTest {
        n: p_values.len(),
        d,
        p_value,
    }
}

/// One-sided KS test for *validity*: D⁺ = sup (F_n(t) − t), large when small p-values are
/// too frequent. A conservative (super-uniform) p-value, like the discrete binomial one,
/// passes this test even where the two-sided test rejects it for its steps.
pub fn ks_valid(p_values: &[f64]) -> KsTest {
    let (d, _) = ks_distances(p_values);
    // Smirnov: P(D⁺ > x) ≈ exp(−2 n x²).
    let p_value = (-2.0 * p_values.len() as f64 * d * d).exp().min(1.0);
    KsTest {
        n: p_values.len(),
        d,
        p_value,
    }
}

/// (D⁺, D⁻): how far the empirical CDF of the sample rises above, and falls below, the diagonal.
fn ks_distances(p_values: &[f64]) -> (f64, f64) {
    let mut sorted: Vec<f64> = p_values.iter().map(|x| x.clamp(0.0, 1.0)).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(above, below), (i, &x)| {
            let (i, x) = (i as f64, x);
            (
                f64::max(above, (i + 1.0) / n - x),
                f64::max(below, x - i / n),
            )
        })
}

/// The randomized binomial p-value P(X > k) + v · P(X = k), X ~ Bin(n, γ), v ∈ [0, 1).
///
/// With v uniform it is exactly Uniform(0, 1) under H0, so its KS test checks the null model
/// itself, free of the steps that make the reported (conservative) p-value non-uniform.
pub fn randomized_binomial_p(k: u64, n: u64, gamma: f64, v: f64) -> f64 {
    let ge = crate::stats::binomial_sf_ln(k, n, gamma).exp();
    let gt = crate::stats::binomial_sf_ln(k + 1, n, gamma).exp();
    gt + v * (ge - gt)
}

/// P(K > λ) for the Kolmogorov distribution: 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²).
fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let kf = f64::from(k);
        let term = (-2.0 * kf * kf * lambda * lambda).exp();
        sum += if k % 2 == 1 { term } else { -term };
        if term < 1e-16 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Empirical false-positive rate at a nominal level, with an exact (Clopper–Pearson) interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FprEstimate {
    /// Nominal level α.
    pub nominal: f64,
    /// Trials.
    pub trials: usize,
    /// Trials with p ≤ α.
    pub rejections: usize,
    /// rejections / trials.
    pub rate: f64,
    /// 95% lower confidence bound.
    pub lower: f64,
    /// 95% upper confidence bound.
    pub upper: f64,
}

/// The fraction of `p_values` at or below `alpha`, with a 95% Clopper–Pearson interval.
pub fn empirical_fpr(p_values: &[f64], alpha: f64) -> FprEstimate {
    let trials = p_values.len();
    let rejections = p_values.iter().filter(|&&p| p <= alpha).count();
    let (lower, upper) = clopper_pearson(rejections as u64, trials as u64);
    FprEstimate {
        nominal: alpha,
        trials,
        rejections,
        rate: if trials == 0 {
            0.0
        } else {
            rejections as f64 / trials as f64
        },
        lower,
        upper,
    }
}

/// The 95% Clopper–Pearson interval for `k` successes in `n` trials, from the exact binomial
/// tails: the lower bound solves P(Bin(n, p) ≥ k) = 0.025 and the upper one
/// P(Bin(n, p) ≤ k) = 0.025. Bisection always ends (statrs' inverse regularized beta did
/// not, for some k among millions of trials).
fn clopper_pearson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let tail = (0.025f64).ln();
    // ln P(X ≥ k) grows with p; find where it crosses `target`.
    let solve = |k: u64, target: f64| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if crate::stats::binomial_sf_ln(k, n, mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let lower = if k == 0 { 0.0 } else { solve(k, tail) };
    let upper = if k >= n {
        1.0
    } else {
        solve(k + 1, (-(0.025f64)).ln_1p())
    };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_accepts_a_uniform_grid_and_rejects_a_skewed_one() {
        let uniform: Vec<f64> = (0..1000).map(|i| (f64::from(i) + 0.5) / 1000.0).collect();
        assert!(ks_uniform(&uniform).p_value > 0.99);
        let skewed: Vec<f64> = uniform.iter().map(|p| p * p).collect();
        let t = ks_uniform(&skewed);
        assert!(t.p_value < 1e-6 && t.d > 0.2, "{t:?}");
    }

    #[test]
    fn one_sided_test_accepts_conservative_and_rejects_liberal_p_values() {
        let uniform: Vec<f64> = (0..1000).map(|i| (f64::from(i) + 0.5) / 1000.0).collect();
        let conservative: Vec<f64> = uniform.iter().map(|p| p.sqrt()).collect();
        assert!(ks_valid(&conservative).p_value > 0.5);
        let liberal: Vec<f64> = uniform.iter().map(|p| p * p).collect();
        assert!(ks_valid(&liberal).p_value < 1e-6);
    }

    #[test]
    fn randomized_p_spans_the_atom() {
        let lo = randomized_binomial_p(3, 10, 0.25, 0.0);
        let hi = randomized_binomial_p(3, 10, 0.25, 1.0 - 1e-12);
        let ge = crate::stats::binomial_sf_ln(3, 10, 0.25).exp();
        assert!(lo < hi && (hi - ge).abs() < 1e-9);
    }

    #[test]
    fn kolmogorov_matches_known_quantiles() {
        // Critical values: P(K > 1.3581) = 0.05, P(K > 1.6276) = 0.01.
        assert!((kolmogorov_sf(1.3581) - 0.05).abs() < 1e-4);
        assert!((kolmogorov_sf(1.6276) - 0.01).abs() < 1e-4);
    }

    #[test]
    fn clopper_pearson_matches_closed_forms_and_ends_on_millions_of_trials() {
        // k = 0: the upper bound is 1 − 0.025^(1/n); k = n: the lower bound is 0.025^(1/n).
        for n in [1u64, 10, 1000, 3_000_000] {
            let (lo, up) = clopper_pearson(0, n);
            let want = 1.0 - 0.025f64.powf(1.0 / n as f64);
            assert_eq!(lo, 0.0);
            assert!((up - want).abs() <= 1e-9 * want, "n {n}: {up} vs {want}");
            let (lo, up) = clopper_pearson(n, n);
            assert!((lo - 0.025f64.powf(1.0 / n as f64)).abs() < 1e-9 && up == 1.0);
        }
        // A textbook value: 3 of 100 gives (0.00622, 0.08518).
        let (lo, up) = clopper_pearson(3, 100);
        assert!(
            (lo - 0.006_22).abs() < 1e-5 && (up - 0.085_18).abs() < 1e-5,
            "{lo} {up}"
        );
        // Counts like the FPR study's (3·10^6 trials): every bound ends and brackets k/n.
        for k in [1u64, 2, 3, 7, 30, 299, 3000, 29_999, 300_000] {
            let n = 3_000_000;
            let (lo, up) = clopper_pearson(k, n);
            let rate = k as f64 / n as f64;
            assert!(
                0.0 < lo && lo < rate && rate < up && up < 1.0,
                "{k}: {lo} {up}"
            );
        }
    }

    #[test]
    fn fpr_interval_contains_the_rate() {
        let ps: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
        let e = empirical_fpr(&ps, 0.01);
        assert_eq!(e.rejections, 11);
        assert!(e.lower < e.rate && e.rate < e.upper && e.upper < 0.02);
    }
}
