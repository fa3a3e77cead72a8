//! Detection rates at fixed false-positive rates.

use serde::Serialize;

/// The false-positive rates at which the field reports detection: 1e-2 to 1e-6.
pub const FPRS: [f64; 5] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

/// The detection rate at one false-positive rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// The nominal false-positive rate, used as the p-value threshold.
    pub fpr: f64,
    /// Texts with p ≤ fpr.
    pub detected: usize,
    /// Texts tested.
    pub total: usize,
    /// detected / total.
    pub tpr: f64,
}

/// TPR at each of `fprs`, with the analytic threshold p ≤ FPR: valid because the exact
/// tests' p-values are (super-)uniform under H0, so the threshold needs no calibration set.
/// `log10_p` holds one log10 p-value per watermarked text.
pub fn tpr_at(log10_p: &[f64], fprs: &[f64]) -> Vec<Rate> {
    fprs.iter()
        .map(|&fpr| {
            let threshold = fpr.log10();
            let detected = log10_p.iter().filter(|&&l| l <= threshold).count();
            Rate {
                fpr,
                detected,
                total: log10_p.len(),
                tpr: if log10_p.is_empty() {
                    0.0
                } else {
                    detected as f64 / log10_p.len() as f64
                },
            }
        })
        .collect()
}

/// The median of `xs` (mean of the middle two for an even count); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_and_monotone() {
        let l = [-1.0, -2.0, -3.0, -6.5, -10.0];
        let r = tpr_at(&l, &FPRS);
        let detected: Vec<usize> = r.iter().map(|r| r.detected).collect();
        assert_eq!(detected, vec![4, 3, 2, 2, 2]);
        assert_eq!(r[0].tpr, 0.8);
        assert!(tpr_at(&[], &FPRS).iter().all(|r| r.tpr == 0.0));
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
