//! Detection as a user would run it: token ids are decoded to text and the text is
//! tokenized again before scoring, so every result here includes the losses of
//! re-tokenization.

use rayon::prelude::*;
use serde::Serialize;
use tracemark_core::Watermark;
use tracemark_detect::{DEFAULT_MIN_WINDOW, DetectOptions, Detector};
use tracemark_eval::{Point, Rate, metrics::median, prefix_curve, tokens_to_detect, tpr_at};
use tracemark_io::TextTokenizer;

/// The text of `ids`, tokenized again.
pub fn retokenize(tokenizer: &TextTokenizer, ids: &[u32]) -> Vec<u32> {
    tokenizer
        .encode_ids(&tokenizer.decode(ids))
        .unwrap_or_default()
}

/// The detection curve of each text (given as generated ids), in parallel.
pub fn curves(wm: &Watermark, tokenizer: &TextTokenizer, texts: &[Vec<u32>]) -> Vec<Vec<Point>> {
    texts
        .par_iter()
        .map(|ids| prefix_curve(wm, &retokenize(tokenizer, ids)))
        .collect()
}

/// The whole-text point of a curve (nothing scored: p = 1).
pub fn last(curve: &[Point]) -> Point {
    curve.last().copied().unwrap_or(Point {
        tokens: 0,
        scored: 0,
        z: 0.0,
        log10_p: 0.0,
    })
}

/// Detection over a set of texts.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Texts.
    pub texts: usize,
    /// Mean tokens per text (after re-tokenization).
    pub mean_tokens: f64,
    /// Mean tuples scored per text.
    pub mean_scored: f64,
    /// Mean z.
    pub mean_z: f64,
    /// Median log10 p.
    pub median_log10_p: f64,
    /// TPR at each FPR of [`tracemark_eval::FPRS`], from the exact p-value.
    pub tpr: Vec<Rate>,
    /// Fraction of texts with z > 4 (Kirchenbauer et al.'s rule).
    pub z4: f64,
    /// Median tokens needed for p ≤ 1e-4, over all texts (a text never detected counts as
    /// infinitely long); `None` when fewer than half are detected.
    pub median_tokens_to_detect: Option<f64>,
}

/// Summarises the curves of a set of texts.
pub fn summarise(curves: &[Vec<Point>]) -> Summary {
    let ends: Vec<Point> = curves.iter().map(|c| last(c)).collect();
    let n = ends.len().max(1) as f64;
    let log10_p: Vec<f64> = ends.iter().map(|p| p.log10_p).collect();
    let needed: Vec<f64> = curves
        .iter()
        .map(|c| tokens_to_detect(c, 1e-4).map_or(f64::INFINITY, |t| t as f64))
        .collect();
    Summary {
        texts: ends.len(),
        mean_tokens: ends.iter().map(|p| p.tokens as f64).sum::<f64>() / n,
        mean_scored: ends.iter().map(|p| p.scored as f64).sum::<f64>() / n,
        mean_z: ends.iter().map(|p| p.z).sum::<f64>() / n,
        median_log10_p: median(&log10_p).unwrap_or(0.0),
        tpr: tpr_at(&log10_p, &tracemark_eval::FPRS),
        z4: ends.iter().filter(|p| p.z > 4.0).count() as f64 / n,
        median_tokens_to_detect: median(&needed).filter(|m| m.is_finite()),
    }
}

/// log10 p of the whole-text test and of the windowed scan combined by Bonferroni over the
/// two (p = min(1, 2·min(p_whole, p_scan))), for each text; both are valid p-values.
pub fn whole_and_scan(
    wm: &Watermark,
    tokenizer: &TextTokenizer,
    texts: &[Vec<u32>],
) -> Vec<(f64, f64)> {
    texts
        .par_iter()
        .map(|ids| {
            let tokens = retokenize(tokenizer, ids);
            let options = DetectOptions {
                window: Some(DEFAULT_MIN_WINDOW),
                ..DetectOptions::default()
            };
            let d = Detector::new(wm, options).detect(&tokens, None);
            let whole = d.test.log10_p;
            let best = d
                .window
                .as_ref()
                .map_or(whole, |w| w.p().log10().min(whole));
            (whole, (best + 2f64.log10()).min(0.0))
        })
        .collect()
}
