//! From a tally of scored tuples to an exact p-value and a verdict.

use serde::Serialize;
use tracemark_core::Scheme;

use crate::score::Tally;
use crate::stats::{PValue, binomial_sf_ln, binomial_z, gamma_sf_ln};

/// The result of one exact test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestResult {
    /// `kgw` or `gumbel`.
    pub scheme: &'static str,
    /// Tokens seen.
    pub tokens: u64,
    /// Distinct tuples scored.
    pub scored: u64,
    /// KGW: green tuples among the scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub green: Option<u64>,
    /// Mean per-tuple score: green fraction (KGW) or mean −ln(1−u) (Gumbel).
    pub score: f64,
    /// What `score` is expected to be under H0: γ (KGW) or 1 (Gumbel).
    pub null_mean: f64,
    /// Standardised score; for information only, the p-value does not use a normal approximation.
    pub z: f64,
    /// P(statistic ≥ observed | H0). May print as 0 when below 1e-308; see `log10_p`.
    pub p_value: f64,
    /// log10 of the p-value, finite far below 1e-300.
    pub log10_p: f64,
    #[serde(skip)]
    p: PValue,
}

impl TestResult {
    /// The p-value in log space.
    pub fn p(&self) -> PValue {
        self.p
    }
}

/// The exact test for `scheme` on `tally`.
///
/// - KGW: under H0 each distinct tuple is green with probability γ, independently, so the
///   green count is Binomial(n, γ) and p = P(Bin(n, γ) ≥ k).
/// - Gumbel: each distinct tuple scores −ln(1−u) ~ Exp(1), so S ~ Gamma(n, 1) and p = P(Gamma(n, 1) ≥ S).
pub fn exact_test(scheme: &Scheme, tally: &Tally) -> TestResult {
    let n = tally.scored;
    let (green, null_mean, z, ln_p) = match *scheme {
        Scheme::Kgw { gamma, .. } => {
            let g = gamma.effective();
            (
                Some(tally.green),
                g,
                binomial_z(tally.green, n, g),
                binomial_sf_ln(tally.green, n, g),
            )
        }
        Scheme::Gumbel => {
            let nf = n as f64;
            let z = if n == 0 {
                0.0
            } else {
                (tally.score_sum - nf) / nf.sqrt()
            };
            (None, 1.0, z, gamma_sf_ln(nf, tally.score_sum))
        }
    };
    let p = if n == 0 {
        PValue::ONE
    } else {
        PValue::from_ln(ln_p)
    };
    TestResult {
        scheme: scheme.name(),
        tokens: tally.tokens,
        scored: n,
        green,
        score: if n == 0 {
            0.0
        } else {
            tally.score_sum / n as f64
        },
        null_mean,
        z,
        p_value: p.value(),
        log10_p: p.log10(),
        p,
    }
}

/// A decision at significance level α.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// p ≤ α.
    Watermarked,
    /// p > α with at least one scored tuple.
    NotDetected,
    /// Nothing could be scored (text shorter than the context, or all tuples excluded).
    NothingScored,
}

impl Verdict {
    /// The decision for a p-value at level `alpha`.
    pub fn decide(p: PValue, scored: u64, alpha: f64) -> Self {
        if scored == 0 {
            Verdict::NothingScored
        } else if p.ln() <= alpha.ln() {
            Verdict::Watermarked
        } else {
            Verdict::NotDetected
        }
    }

    /// Human label.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Watermarked => "WATERMARKED",
            Verdict::NotDetected => "not detected",
            Verdict::NothingScored => "nothing to score",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_core::{Delta, Gamma};

    fn kgw() -> Scheme {
        Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(2.0).unwrap(),
        }
    }

    #[test]
    fn all_green_5000_tokens_is_far_below_1e300() {
        let tally = Tally {
            tokens: 5000,
            scored: 5000,
            green: 5000,
            score_sum: 5000.0,
            ..Tally::default()
        };
        let r = exact_test(&kgw(), &tally);
        // Independent: P = 0.25^5000 exactly.
        assert!(
            (r.log10_p - 5000.0 * 0.25f64.log10()).abs() < 1e-8,
            "{}",
            r.log10_p
        );
        assert_eq!(r.p_value, 0.0);
        assert!(r.z > 60.0);
    }

    #[test]
    fn nothing_scored_is_p_one() {
        let r = exact_test(&Scheme::Gumbel, &Tally::default());
        assert_eq!((r.p_value, r.log10_p), (1.0, 0.0));
        assert_eq!(Verdict::decide(r.p(), 0, 1e-3), Verdict::NothingScored);
    }

    #[test]
    fn gumbel_uses_the_gamma_tail() {
        let tally = Tally {
            tokens: 1,
            scored: 1,
            score_sum: 3.0,
            ..Tally::default()
        };
        let r = exact_test(&Scheme::Gumbel, &tally);
        assert!((r.p_value - (-3.0f64).exp()).abs() < 1e-12);
    }
}
