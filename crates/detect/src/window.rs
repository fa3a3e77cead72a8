//! Windowed scan for partly watermarked text (a watermarked paragraph pasted into human text).
//!
//! Windows run over the sequence of *scored* tuples (after dedup and exclusions), with sizes
//! w = w₀, 2w₀, 4w₀, … below n plus the whole sequence, each slid with stride w/2 and one
//! window flush with the end. Each window gets its exact p-value.
//!
//! **Correction.** The reported p-value is Bonferroni over all m windows tested:
//! p = min(1, m · min p). Every window's p is valid under H0 (its tuples are distinct, hence
//! independent), and the union bound holds under any dependence between windows, so the
//! corrected p is valid. With m ≈ 4n/w₀ it costs about log10(m) orders of magnitude.

use serde::Serialize;
use tracemark_core::Scheme;

use crate::stats::{PValue, binomial_sf_ln, gamma_sf_ln};

/// Default smallest window, in scored tuples.
pub const DEFAULT_MIN_WINDOW: usize = 16;

/// The best window found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BestWindow {
    /// Index of the first scored tuple in the window.
    pub first_scored: usize,
    /// Number of scored tuples in the window.
    pub scored: u64,
    /// Token index where the window starts.
    pub start_token: usize,
    /// Token index one past the window's last token.
    pub end_token: usize,
    /// KGW: green tuples in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub green: Option<u64>,
    /// Mean per-tuple score in the window.
    pub score: f64,
    /// log10 of this window's own (uncorrected) p-value.
    pub log10_p_uncorrected: f64,
}

/// The result of a windowed scan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowScan {
    /// m: windows tested, the Bonferroni factor.
    pub windows_tested: u64,
    /// The best window, if any tuple was scored.
    pub best: Option<BestWindow>,
    /// Corrected p-value, min(1, m · p_best).
    pub p_value: f64,
    /// log10 of the corrected p-value.
    pub log10_p: f64,
    #[serde(skip)]
    p: PValue,
}

impl WindowScan {
    /// The corrected p-value in log space.
    pub fn p(&self) -> PValue {
        self.p
    }
}

/// Scans `values` (per scored tuple, in text order: 1/0 for KGW green, −ln(1−u) for Gumbel).
/// `positions[i]` is the token index of scored tuple i; windows report token spans from it.
///
/// # Panics
/// If `values` and `positions` differ in length or `min_window` is 0.
pub fn scan(scheme: &Scheme, values: &[f64], positions: &[usize], min_window: usize) -> WindowScan {
    assert_eq!(values.len(), positions.len());
    assert!(min_window > 0);
    let n = values.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    for v in values {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + v);
    }
    let window_ln_p = |start: usize, w: usize| -> f64 {
        let sum = prefix[start + w] - prefix[start];
        match *scheme {
            Scheme::Kgw { gamma, .. } => {
                binomial_sf_ln(sum.round() as u64, w as u64, gamma.effective())
            }
            Scheme::Gumbel => gamma_sf_ln(w as f64, sum),
        }
    };

    let mut sizes = Vec::new();
    let mut w = min_window;
    while w < n {
        sizes.push(w);
        w *= 2;
    }
    if n > 0 {
        sizes.push(n);
    }
    let mut tested = 0u64;
    let mut best: Option<(f64, usize, usize)> = None;
    for &w in &sizes {
        let stride = (w / 2).max(1);
        let mut starts: Vec<usize> = (0..=n - w).step_by(stride).collect();
        if starts.last() != Some(&(n - w)) {
            starts.push(n - w);
        }
        for start in starts {
            tested += 1;
            let ln_p = window_ln_p(start, w);
            if best.is_none_or(|(b, _, _)| ln_p < b) {
                best = Some((ln_p, start, w));
            }
        }
    }
    let Some((ln_p, start, w)) = best else {
        return WindowScan {
            windows_tested: 0,
            best: None,
            p_value: 1.0,
            log10_p: 0.0,
            p: PValue::ONE,
        };
    };
    let sum = prefix[start + w] - prefix[start];
    let raw = PValue::from_ln(ln_p);
    let p = raw.bonferroni(tested);
    WindowScan {
        windows_tested: tested,
        best: Some(BestWindow {
            first_scored: start,
            scored: w as u64,
            start_token: positions[start],
            end_token: positions[start + w - 1] + 1,
            green: matches!(scheme, Scheme::Kgw { .. }).then_some(sum.round() as u64),
            score: sum / w as f64,
            log10_p_uncorrected: raw.log10(),
        }),
        p_value: p.value(),
        log10_p: p.log10(),
        p,
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
    fn finds_a_planted_green_run() {
        // 400 tuples at a quarter green, with 64 consecutive greens at 200..264.
        let values: Vec<f64> = (0..400)
            .map(|i| {
                if (200..264).contains(&i) || i % 4 == 0 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let positions: Vec<usize> = (0..400).map(|i| i + 3).collect();
        let scan = scan(&kgw(), &values, &positions, 16);
        let best = scan.best.unwrap();
        // Windows start at multiples of w/2, so the best one overlaps the run without matching it.
        assert!(best.start_token >= 180 && best.end_token <= 290, "{best:?}");
        assert!(best.scored >= 32);
        assert!(scan.log10_p < -20.0);
        assert!(scan.log10_p > best.log10_p_uncorrected);
        assert!(
            (scan.log10_p - best.log10_p_uncorrected - (scan.windows_tested as f64).log10()).abs()
                < 1e-9
        );
    }

    #[test]
    fn short_and_empty_inputs() {
        let s = scan(&Scheme::Gumbel, &[], &[], 16);
        assert_eq!((s.windows_tested, s.p_value), (0, 1.0));
        let s = scan(&kgw(), &[1.0; 5], &[0, 1, 2, 3, 4], 16);
        assert_eq!(s.windows_tested, 1);
        assert!((s.log10_p - 5.0 * 0.25f64.log10()).abs() < 1e-9);
    }
}
