//! The verdict rule: radioactive only when the analytic test and its calibration agree.

use serde::Serialize;

use crate::controls::Controls;

/// Fewest random-key controls that can show the calibration holds.
pub const MIN_CONTROLS: usize = 20;

/// Level of the one-sided KS check on the random-key p-values.
pub const CONTROLS_KS_ALPHA: f64 = 1e-3;

/// The verdict on one suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The suspect reproduces the watermark: p ≤ α, the controls are uniform and no random
    /// key does as well as the true key.
    Radioactive,
    /// No evidence: p > α with calibrated controls.
    NotRadioactive,
    /// The test cannot be trusted or decided; the reason names the failed assumption.
    Inconclusive,
}

impl Verdict {
    /// Short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Radioactive => "RADIOACTIVE",
            Verdict::NotRadioactive => "not radioactive",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// A verdict with the sentence that justifies it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one plain sentence.
    pub reason: String,
}

impl Finding {
    /// Applies the rule.
    ///
    /// 1. Nothing scored, or fewer than [`MIN_CONTROLS`] controls: inconclusive.
    /// 2. The random-key p-values are stochastically smaller than uniform (one-sided KS at
    ///    [`CONTROLS_KS_ALPHA`]): inconclusive, because the null hypothesis itself fails.
    /// 3. p ≤ α and the true key ranks first among all keys: radioactive; p ≤ α but some
    ///    random key scored as low: inconclusive.
    /// 4. Otherwise not radioactive.
    pub fn decide(scored: u64, log10_p: f64, alpha: f64, controls: &Controls) -> Self {
        let (verdict, reason) = if scored == 0 {
            (
                Verdict::Inconclusive,
                "nothing was scored: every tuple was a prefix, a prompt window, a repeat or \
                 outside the training filter; supply more suspect text"
                    .to_string(),
            )
        } else if controls.keys < MIN_CONTROLS {
            (
                Verdict::Inconclusive,
                format!(
                    "only {} random-key controls; at least {MIN_CONTROLS} are needed to check \
                     that the p-value is calibrated on this data",
                    controls.keys
                ),
            )
        } else if controls.ks.p_value < CONTROLS_KS_ALPHA {
            (
                Verdict::Inconclusive,
                format!(
                    "controls are not uniform (one-sided KS p = {:.1e} over {} random keys): \
                     random keys also find signal, so the suspect text is too repetitive for \
                     the independence assumption; dedup more aggressively (e.g. a longer \
                     context window) or supply more varied text",
                    controls.ks.p_value, controls.keys
                ),
            )
        } else if log10_p <= alpha.log10() {
            if controls.rank == 1 {
                (
                    Verdict::Radioactive,
                    format!(
                        "p = {} ≤ α = {alpha:.0e}, the true key ranks first of {} keys and the \
                         random-key controls are uniform: the suspect was trained on text \
                         watermarked with this key",
                        fmt_p(log10_p),
                        controls.keys + 1
                    ),
                )
            } else {
                (
                    Verdict::Inconclusive,
                    format!(
                        "p = {} ≤ α, but {} random key(s) scored at least as low as the true \
                         key; the data do not single out this key",
                        fmt_p(log10_p),
                        controls.rank - 1
                    ),
                )
            }
        } else {
            (
                Verdict::NotRadioactive,
                format!(
                    "p = {} > α = {alpha:.0e} with calibrated controls: no evidence that the \
                     suspect was trained on text watermarked with this key",
                    fmt_p(log10_p)
                ),
            )
        };
        Self { verdict, reason }
    }
}

/// A p-value given by its log10, readable at any magnitude (`3.2e-7`, `1e-412`).
pub fn fmt_p(log10_p: f64) -> String {
    if log10_p > -300.0 {
        format!("{:.2e}", 10f64.powf(log10_p))
    } else {
        format!("1e{:.0}", log10_p.floor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::{ControlOptions, summarize};

    fn controls(log10_p: Vec<f64>, true_log10_p: f64) -> Controls {
        summarize(&ControlOptions::default(), log10_p, true_log10_p)
    }

    /// M evenly spread p-values in (0, 1): a perfectly uniform control sample.
    fn uniform(m: usize) -> Vec<f64> {
        (0..m)
            .map(|i| ((i as f64 + 0.5) / m as f64).log10())
            .collect()
    }

    #[test]
    fn every_branch_of_the_rule() {
        let v = |scored, p, c: &Controls| Finding::decide(scored, p, 1e-3, c).verdict;
        let good = controls(uniform(200), -12.0);
        assert_eq!(good.rank, 1);
        assert_eq!(v(500, -12.0, &good), Verdict::Radioactive);
        let null = controls(uniform(200), -0.5);
        assert_eq!(v(500, -0.5, &null), Verdict::NotRadioactive);
        assert_eq!(v(0, 0.0, &null), Verdict::Inconclusive);
        assert_eq!(
            v(500, -12.0, &controls(uniform(10), -12.0)),
            Verdict::Inconclusive
        );
        // Random keys that also "detect": the data break the null hypothesis.
        let skewed: Vec<f64> = uniform(200).iter().map(|p| p * 4.0).collect();
        let finding = Finding::decide(500, -12.0, 1e-3, &controls(skewed, -12.0));
        assert_eq!(finding.verdict, Verdict::Inconclusive);
        assert!(finding.reason.contains("not uniform"), "{}", finding.reason);
        // A random key as extreme as the true one.
        let mut tie = uniform(200);
        tie[7] = -13.0;
        let finding = Finding::decide(500, -12.0, 1e-3, &controls(tie, -12.0));
        assert_eq!(finding.verdict, Verdict::Inconclusive);
        assert!(finding.reason.contains("random key"), "{}", finding.reason);
    }

    #[test]
    fn rank_and_permutation_p() {
        let c = controls(vec![-1.0, -3.0, -0.2, -5.0], -3.0);
        assert_eq!((c.rank, c.permutation_p), (3, 3.0 / 5.0));
    }

    #[test]
    fn tiny_p_values_print() {
        assert_eq!(fmt_p(-2.0), "1.00e-2");
        assert_eq!(fmt_p(-1234.5), "1e-1235");
    }
}
