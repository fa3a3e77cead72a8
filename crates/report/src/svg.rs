//! The report's two plots, drawn by hand as inline SVG: the evidence curve and the histogram
//! of the random-key p-values.
//!
//! Every coordinate written goes through [`num`], which turns anything non-finite into 0, and
//! every value plotted is clamped to its axis first, so extreme p-values (1e-5000) only
//! stretch the axis and never produce `NaN` or `inf` in the page.

use std::fmt::Write as _;

use tracemark_radioactivity::{Investigation, fmt_p};

use crate::markup::escape;

/// Width and height of both plots (the viewBox; the page may scale them down).
const W: f64 = 640.0;
const H: f64 = 320.0;

/// Histogram bins on [0, 1].
pub(crate) const BINS: usize = 20;

/// Colours shared with the page's CSS.
const INK: &str = "#1f2933";
const MUTED: &str = "#616e7c";
const GRID: &str = "#e4e7eb";
const CURVE: &str = "#1f4e99";
const ALPHA_RED: &str = "#c62828";
const BAR: &str = "#9aa5b1";

/// A white outline behind a label, so it stays legible over lines and bars.
const HALO: &str =
    r#" stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke""#;

/// A coordinate or length with one decimal; 0 for anything non-finite.
fn num(v: f64) -> String {
    if v.is_finite() {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    } else {
        "0".to_string()
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) close to `raw`; 1 for nonsense.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let n = raw / mag;
    let m = if n <= 1.0 {
        1.0
    } else if n <= 2.0 {
        2.0
    } else if n <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// A count for an axis: `950`, `12k`, `1.5M`.
fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A p-value tick from an integer log10: `1`, `0.1`, `0.01`, `1e-3`, `1e-5000`.
fn p_tick(log10: f64) -> String {
    match log10.round() as i64 {
        0 => "1".to_string(),
        -1 => "0.1".to_string(),
        -2 => "0.01".to_string(),
        e => format!("1e{e}"),
    }
}

/// Opens an SVG element with a title for screen readers and tooltips.
fn open(out: &mut String, label: &str) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{l}" font-size="12" fill="{INK}"><title>{l}</title>"#,
        w = num(W),
        h = num(H),
        l = escape(label),
    );
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, s: &str) {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="{anchor}"{extra}>{}</text>"#,
        num(x),
        num(y),
        escape(s)
    );
}

fn line(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), style: &str) {
    let _ = write!(
        out,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {style}/>"#,
        num(x1),
        num(y1),
        num(x2),
        num(y2)
    );
}

/// The evidence curve: log10 p against tuples scored, with the α line, the final p-value and,
/// at the right, where the random keys ended on the same tuples.
pub(crate) fn curve_plot(inv: &Investigation) -> String {
    let (left, right, top, bottom) = (78.0, W - 124.0, 16.0, H - 50.0);
    let (pw, ph) = (right - left, bottom - top);
    let points: Vec<(f64, f64)> = inv
        .curve
        .iter()
        .filter(|p| p.log10_p.is_finite())
        .map(|p| (p.scored as f64, p.log10_p.min(0.0)))
        .collect();
    let controls: Vec<f64> = inv
        .controls
        .log10_p
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .map(|v| v.min(0.0))
        .collect();
    let alpha = (inv.alpha > 0.0 && inv.alpha <= 1.0).then(|| inv.alpha.log10());
    let final_p = inv
        .test
        .log10_p
        .is_finite()
        .then_some(inv.test.log10_p.min(0.0));

    // The y axis runs from 0 (p = 1) at the top down to a whole number of integer steps.
    let lowest = points
        .iter()
        .map(|p| p.1)
        .chain(controls.iter().copied())
        .chain(alpha)
        .chain(final_p)
        .fold(0.0f64, f64::min);
    let ystep = nice_step(-lowest / 5.0).max(1.0);
    // At least one step below the lowest value, so labels under the α line fit.
    let ymin = -(((-lowest / ystep) + 1e-9).floor() + 1.0) * ystep;
    let y = |v: f64| top + (v.clamp(ymin, 0.0) / ymin) * ph;
    let xmax = points.last().map_or(0.0, |p| p.0).max(1.0);
    let xstep = nice_step(xmax / 5.0).max(1.0);
    let x = |v: f64| left + (v.clamp(0.0, xmax) / xmax) * pw;

    let mut out = String::new();
    open(
        &mut out,
        &format!(
            "Evidence curve for {}: p-value against tuples scored",
            inv.suspect
        ),
    );
    // The significant region below α, then the grid and the axes.
    if let Some(a) = alpha {
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{ALPHA_RED}" fill-opacity="0.06"/>"#,
            num(left),
            num(y(a)),
            num(pw),
            num(bottom - y(a))
        );
    }
    let mut t = 0.0;
    while t >= ymin - 1e-9 {
        line(
            &mut out,
            (left, y(t)),
            (right, y(t)),
            &format!(r#"stroke="{GRID}""#),
        );
        text(&mut out, left - 6.0, y(t) + 4.0, "end", "", &p_tick(t));
        t -= ystep;
    }
    let mut t = 0.0;
    while t <= xmax + 1e-9 {
        line(
            &mut out,
            (x(t), bottom),
            (x(t), bottom + 5.0),
            &format!(r#"stroke="{INK}""#),
        );
        text(&mut out, x(t), bottom + 18.0, "middle", "", &compact(t));
        t += xstep;
    }
    line(
        &mut out,
        (left, top),
        (left, bottom),
        &format!(r#"stroke="{INK}""#),
    );
    line(
        &mut out,
        (left, bottom),
        (right, bottom),
        &format!(r#"stroke="{INK}""#),
    );
    text(
        &mut out,
        (left + right) / 2.0,
        H - 12.0,
        "middle",
        "",
        "tuples scored",
    );
    let _ = write!(
        out,
        r#"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle">p-value (log scale)</text>"#,
        num((top + bottom) / 2.0)
    );
    if let Some(a) = alpha {
        line(
            &mut out,
            (left, y(a)),
            (right, y(a)),
            &format!(r#"stroke="{ALPHA_RED}" stroke-width="1.5" stroke-dasharray="6 4""#),
        );
        // Right end, under the line: the curve of a clean suspect stays above it there, and
        // a radioactive one has long since fallen below.
        let label = format!("α = {} (significance level)", alpha_text(inv.alpha));
        let fill = format!(r#" fill="{ALPHA_RED}"{HALO}"#);
        text(&mut out, right - 6.0, y(a) + 16.0, "end", &fill, &label);
    }

    if points.is_empty() {
        text(
            &mut out,
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            &format!(r#" fill="{MUTED}""#),
            "no evidence curve: nothing was scored",
        );
    } else {
        let mut path = String::new();
        if points[0].0 > 0.0 {
            path.push_str(&format!("{},{} ", num(x(0.0)), num(y(0.0))));
        }
        for &(px, py) in &points {
            path.push_str(&format!("{},{} ", num(x(px)), num(y(py))));
        }
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{CURVE}" stroke-width="2" stroke-linejoin="round"/>"#,
            path.trim_end()
        );
    }

    // The random keys' final p-values in a strip right of the plot, the true key's beside them.
    let strip = right + 50.0;
    if !controls.is_empty() {
        for &c in &controls {
            line(
                &mut out,
                (strip - 8.0, y(c)),
                (strip + 8.0, y(c)),
                &format!(r#"stroke="{MUTED}" stroke-opacity="0.45""#),
            );
        }
        let muted = format!(r#" fill="{MUTED}" font-size="11""#);
        text(&mut out, strip, bottom + 18.0, "middle", &muted, "random");
        text(&mut out, strip, bottom + 31.0, "middle", &muted, "keys");
    }
    if let Some(fp) = final_p.filter(|_| !points.is_empty()) {
        let (fx, fy) = (x(xmax), y(fp));
        let _ = write!(
            out,
            r#"<circle cx="{}" cy="{}" r="4.5" fill="{CURVE}"/>"#,
            num(fx),
            num(fy)
        );
        if !controls.is_empty() {
            line(
                &mut out,
                (fx + 6.0, fy),
                (strip + 10.0, fy),
                &format!(r#"stroke="{CURVE}" stroke-width="1" stroke-dasharray="2 2""#),
            );
        }
        // The legend sits in the bottom-left corner, which the curve (starting at p = 1,
        // top left) rarely crosses.
        let (lx, ly) = (left + 12.0, bottom - 12.0);
        let _ = write!(
            out,
            r#"<circle cx="{}" cy="{}" r="4.5" fill="{CURVE}"/>"#,
            num(lx),
            num(ly - 4.0)
        );
        let bold = format!(r#" font-weight="bold" fill="{CURVE}"{HALO}"#);
        let label = format!("true key: p = {} after {} tuples", fmt_p(fp), compact(xmax));
        text(&mut out, lx + 10.0, ly, "start", &bold, &label);
    }
    out.push_str("</svg>");
    out
}

/// α as the verdict writes it: `1e-3`.
pub(crate) fn alpha_text(alpha: f64) -> String {
    if alpha.is_finite() {
        format!("{alpha:.0e}")
    } else {
        "n/a".to_string()
    }
}

/// Counts of the random-key p-values in [`BINS`] equal bins on [0, 1].
pub(crate) fn bin_counts(log10_p: &[f64]) -> [usize; BINS] {
    let mut counts = [0usize; BINS];
    for &l in log10_p.iter().filter(|l| !l.is_nan()) {
        let p = 10f64.powf(l.min(0.0));
        let b = ((p * BINS as f64) as usize).min(BINS - 1);
        counts[b] += 1;
    }
    counts
}

/// Histogram of the random-key p-values with the uniform expectation and the true key's p.
pub(crate) fn histogram(inv: &Investigation) -> String {
    let (left, right, top, bottom) = (58.0, W - 24.0, 40.0, H - 50.0);
    let (pw, ph) = (right - left, bottom - top);
    let counts = bin_counts(&inv.controls.log10_p);
    let m: usize = counts.iter().sum();
    let expected = m as f64 / BINS as f64;
    let highest = counts.iter().copied().max().unwrap_or(0) as f64;
    let want = (highest.max(expected) * 1.15).max(1.0);
    let ystep = nice_step(want / 5.0).max(1.0).round();
    let ymax = (want / ystep).ceil() * ystep;
    let y = |v: f64| bottom - (v.clamp(0.0, ymax) / ymax) * ph;
    let x = |p: f64| left + p.clamp(0.0, 1.0) * pw;

    let mut out = String::new();
    open(
        &mut out,
        &format!("Histogram of the p-values of {m} random keys, with the true key's p-value"),
    );
    let mut t = 0.0;
    while t <= ymax + 1e-9 {
        line(
            &mut out,
            (left, y(t)),
            (right, y(t)),
            &format!(r#"stroke="{GRID}""#),
        );
        text(&mut out, left - 6.0, y(t) + 4.0, "end", "", &compact(t));
        t += ystep;
    }
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let x0 = x(i as f64 / BINS as f64);
        let x1 = x((i + 1) as f64 / BINS as f64);
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{BAR}" stroke="white"><title>{} random keys with p in [{:.2}, {:.2})</title></rect>"#,
            num(x0),
            num(y(c as f64)),
            num(x1 - x0),
            num(bottom - y(c as f64)),
            c,
            i as f64 / BINS as f64,
            (i + 1) as f64 / BINS as f64,
        );
    }
    for i in 0..=5 {
        let p = i as f64 / 5.0;
        line(
            &mut out,
            (x(p), bottom),
            (x(p), bottom + 5.0),
            &format!(r#"stroke="{INK}""#),
        );
        text(&mut out, x(p), bottom + 18.0, "middle", "", &trim(p));
    }
    line(
        &mut out,
        (left, top),
        (left, bottom),
        &format!(r#"stroke="{INK}""#),
    );
    line(
        &mut out,
        (left, bottom),
        (right, bottom),
        &format!(r#"stroke="{INK}""#),
    );
    text(
        &mut out,
        (left + right) / 2.0,
        H - 12.0,
        "middle",
        "",
        "p-value",
    );
    let _ = write!(
        out,
        r#"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle">random keys</text>"#,
        num((top + bottom) / 2.0)
    );

    if m == 0 {
        text(
            &mut out,
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            &format!(r#" fill="{MUTED}""#),
            "no random-key controls were run",
        );
    } else {
        line(
            &mut out,
            (left, y(expected)),
            (right, y(expected)),
            &format!(r#"stroke="{INK}" stroke-width="1.2" stroke-dasharray="5 4""#),
        );
        // Its legend goes under the axis, at the right, clear of the bars and the marker.
        let label = format!("if uniform: {} per bin", trim(expected));
        let (lx, ly) = (right - 150.0, H - 12.0);
        line(
            &mut out,
            (lx - 30.0, ly - 4.0),
            (lx - 6.0, ly - 4.0),
            &format!(r#"stroke="{INK}" stroke-width="1.2" stroke-dasharray="5 4""#),
        );
        let muted = format!(r#" fill="{MUTED}""#);
        text(&mut out, lx, ly, "start", &muted, &label);
    }

    // The true key: a red marker from the top of the plot down to the axis.
    let lp = inv.test.log10_p;
    if lp.is_finite() {
        let p = 10f64.powf(lp.min(0.0));
        let px = x(p);
        line(
            &mut out,
            (px, top - 8.0),
            (px, bottom),
            &format!(r#"stroke="{ALPHA_RED}" stroke-width="2.5""#),
        );
        let _ = write!(
            out,
            r#"<path d="M{} {} l-6 -9 h12 z" fill="{ALPHA_RED}"/>"#,
            num(px),
            num(top - 4.0)
        );
        let (anchor, dx) = if p < 0.5 {
            ("start", 9.0)
        } else {
            ("end", -9.0)
        };
        let label = format!("true key: p = {}", fmt_p(lp));
        let bold = format!(r#" font-weight="bold" fill="{ALPHA_RED}"{HALO}"#);
        text(&mut out, px + dx, top - 14.0, anchor, &bold, &label);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(1000.0), 1000.0);
        assert_eq!(nice_step(1100.0), 2000.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn labels() {
        assert_eq!(compact(50_000.0), "50k");
        assert_eq!(compact(1_500_000.0), "1.5M");
        assert_eq!(compact(40.0), "40");
        assert_eq!(compact(5000.0), "5k");
        assert_eq!(p_tick(0.0), "1");
        assert_eq!(p_tick(-2.0), "0.01");
        assert_eq!(p_tick(-5000.0), "1e-5000");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::NEG_INFINITY), "0");
        assert_eq!(num(12.0), "12");
    }

    #[test]
    fn bins_cover_the_unit_interval() {
        let c = bin_counts(&[0.0, -0.0001, -0.31, -5000.0, f64::NEG_INFINITY, f64::NAN]);
        assert_eq!(c[BINS - 1], 2);
        assert_eq!(c[0], 2);
        assert_eq!(c[(0.49 * BINS as f64) as usize], 1);
        assert_eq!(c.iter().sum::<usize>(), 5);
    }
}
