//! Detection after every prefix of a text: how the statistic grows with length, and how
//! many tokens it takes to cross a threshold.

use serde::Serialize;
use tracemark_core::Watermark;
use tracemark_detect::{Scorer, Tally, exact_test};

/// The test over the first `tokens` tokens of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Prefix length in tokens.
    pub tokens: usize,
    /// Distinct tuples scored in the prefix.
    pub scored: u64,
    /// Standardised score (KGW: the paper's z).
    pub z: f64,
    /// log10 of the exact p-value.
    pub log10_p: f64,
}

/// The exact test (with dedup) after each token of `tokens` under `watermark`: one point
/// per prefix length 1..=len.
pub fn prefix_curve(watermark: &Watermark, tokens: &[u32]) -> Vec<Point> {
    let mut statuses = Vec::with_capacity(tokens.len());
    Scorer::new(watermark, true).score(tokens, None, None, Some(&mut statuses));
    let scheme = watermark.config().scheme;
    let mut tally = Tally::default();
    statuses
        .iter()
        .enumerate()
        .map(|(i, &status)| {
            tally.add(status);
            let r = exact_test(&scheme, &tally);
            Point {
                tokens: i + 1,
                scored: r.scored,
                z: r.z,
                log10_p: r.log10_p,
            }
        })
        .collect()
}

/// The shortest prefix (in tokens) whose p-value is at most `alpha`, if any.
pub fn tokens_to_detect(curve: &[Point], alpha: f64) -> Option<usize> {
    let threshold = alpha.log10();
    curve
        .iter()
        .find(|p| p.log10_p <= threshold)
        .map(|p| p.tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};

    fn watermark() -> Watermark {
        let config = WatermarkConfig {
            scheme: Scheme::Kgw {
                gamma: Gamma::new(0.25).unwrap(),
                delta: Delta::new(2.0).unwrap(),
            },
            seeding: Seeding::new(SeedingKind::LeftHash, 1).unwrap(),
        };
        Watermark::new(&Key::from_secret([7; 32], config))
    }

    /// A sequence in which every token is green under `wm`: after each token, the next is
    /// the smallest id green in its context.
    fn all_green(wm: &Watermark, len: usize) -> Vec<u32> {
        let mut ids = vec![1u32];
        while ids.len() < len {
            let window = &ids[ids.len() - 1..];
            let next = (0..)
                .find(|&t| wm.score(window, t).value() == 1.0 && !ids.contains(&t))
                .unwrap();
            ids.push(next);
        }
        ids
    }

    #[test]
    fn the_curve_ends_at_the_whole_text_test() {
        let wm = watermark();
        let ids = all_green(&wm, 60);
        let curve = prefix_curve(&wm, &ids);
        assert_eq!(curve.len(), 60);
        let tally = Scorer::new(&wm, true).score(&ids, None, None, None);
        let whole = exact_test(&wm.config().scheme, &tally);
        let last = curve.last().unwrap();
        assert_eq!((last.scored, last.log10_p), (whole.scored, whole.log10_p));
        // All green: log10 p = scored · log10 γ exactly.
        assert!((last.log10_p - 59.0 * 0.25f64.log10()).abs() < 1e-9);
        assert!(curve.windows(2).all(|w| w[1].log10_p <= w[0].log10_p));
    }

    #[test]
    fn tokens_to_detect_is_the_first_crossing() {
        let wm = watermark();
        let curve = prefix_curve(&wm, &all_green(&wm, 60));
        // The first token is not scored; k green of k give log10 p = −0.602·k ≤ −4 from k = 7.
        assert_eq!(tokens_to_detect(&curve, 1e-4), Some(8));
        assert_eq!(tokens_to_detect(&curve, 1e-300), None);
    }
}
