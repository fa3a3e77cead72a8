//! The report's two plots: the evidence curve and the histogram of the random-key p-values,
//! drawn on a [`Canvas`].
//!
//! Every value plotted is clamped to its axis first, so extreme p-values (1e-5000) only
//! stretch the axis and never produce `NaN` or `inf` in the page.

use tracemark_radioactivity::{Investigation, fmt_p};

use crate::svg::{
    ALPHA_RED, BAR, CURVE, Canvas, Frame, GRID, HALO, INK, MUTED, compact, nice_step, num, p_tick,
    trim,
};

/// Width and height of both plots (the viewBox; the page may scale them down).
const W: f64 = 640.0;
const H: f64 = 320.0;

/// Histogram bins on [0, 1].
pub(crate) const BINS: usize = 20;

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

    let mut out = Canvas::new(
        W,
        H,
        &format!(
            "Evidence curve for {}: p-value against tuples scored",
            inv.suspect
        ),
    );
    // The significant region below α, then the grid and the axes.
    if let Some(a) = alpha {
        let fill = format!(r#" fill="{ALPHA_RED}" fill-opacity="0.06""#);
        out.rect(left, y(a), pw, bottom - y(a), &fill, "");
    }
    let mut t = 0.0;
    while t >= ymin - 1e-9 {
        out.line((left, y(t)), (right, y(t)), &format!(r#"stroke="{GRID}""#));
        out.text(left - 6.0, y(t) + 4.0, "end", "", &p_tick(t));
        t -= ystep;
    }
    let mut t = 0.0;
    while t <= xmax + 1e-9 {
        out.line(
            (x(t), bottom),
            (x(t), bottom + 5.0),
            &format!(r#"stroke="{INK}""#),
        );
        out.text(x(t), bottom + 18.0, "middle", "", &compact(t));
        t += xstep;
    }
    out.frame(&Frame {
        left,
        right,
        top,
        bottom,
        x_title: "tuples scored",
        y_title: "p-value (log scale)",
    });
    if let Some(a) = alpha {
        out.line(
            (left, y(a)),
            (right, y(a)),
            &format!(r#"stroke="{ALPHA_RED}" stroke-width="1.5" stroke-dasharray="6 4""#),
        );
        // Right end, under the line: the curve of a clean suspect stays above it there, and
        // a radioactive one has long since fallen below.
        let label = format!("α = {} (significance level)", alpha_text(inv.alpha));
        let fill = format!(r#" fill="{ALPHA_RED}"{HALO}"#);
        out.text(right - 6.0, y(a) + 16.0, "end", &fill, &label);
    }

    if points.is_empty() {
        out.text(
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            &format!(r#" fill="{MUTED}""#),
            "no evidence curve: nothing was scored",
        );
    } else {
        let mut path = Vec::with_capacity(points.len() + 1);
        if points[0].0 > 0.0 {
            path.push((x(0.0), y(0.0)));
        }
        path.extend(points.iter().map(|&(px, py)| (x(px), y(py))));
        let style =
            format!(r#"fill="none" stroke="{CURVE}" stroke-width="2" stroke-linejoin="round""#);
        out.polyline(&path, &style);
    }

    // The random keys' final p-values in a strip right of the plot, the true key's beside them.
    let strip = right + 50.0;
    if !controls.is_empty() {
        for &c in &controls {
            out.line(
                (strip - 8.0, y(c)),
                (strip + 8.0, y(c)),
                &format!(r#"stroke="{MUTED}" stroke-opacity="0.45""#),
            );
        }
        let muted = format!(r#" fill="{MUTED}" font-size="11""#);
        out.text(strip, bottom + 18.0, "middle", &muted, "random");
        out.text(strip, bottom + 31.0, "middle", &muted, "keys");
    }
    if let Some(fp) = final_p.filter(|_| !points.is_empty()) {
        let (fx, fy) = (x(xmax), y(fp));
        out.circle((fx, fy), 4.5, CURVE);
        if !controls.is_empty() {
            out.line(
                (fx + 6.0, fy),
                (strip + 10.0, fy),
                &format!(r#"stroke="{CURVE}" stroke-width="1" stroke-dasharray="2 2""#),
            );
        }
        // The legend sits in the bottom-left corner, which the curve (starting at p = 1,
        // top left) rarely crosses.
        let (lx, ly) = (left + 12.0, bottom - 12.0);
        out.circle((lx, ly - 4.0), 4.5, CURVE);
        let bold = format!(r#" font-weight="bold" fill="{CURVE}"{HALO}"#);
        let label = format!("true key: p = {} after {} tuples", fmt_p(fp), compact(xmax));
        out.text(lx + 10.0, ly, "start", &bold, &label);
    }
    out.finish()
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
    p_histogram(
        &inv.controls.log10_p,
        "random keys",
        Some((inv.test.log10_p, "true key")),
    )
}

/// Histogram of null p-values (`unit`: what they belong to) with the uniform expectation
/// and, if given, one marked p-value with its label.
pub(crate) fn p_histogram(log10_p: &[f64], unit: &str, marker: Option<(f64, &str)>) -> String {
    let (left, right, top, bottom) = (58.0, W - 24.0, 40.0, H - 50.0);
    let (pw, ph) = (right - left, bottom - top);
    let counts = bin_counts(log10_p);
    let m: usize = counts.iter().sum();
    let expected = m as f64 / BINS as f64;
    let highest = counts.iter().copied().max().unwrap_or(0) as f64;
    let want = (highest.max(expected) * 1.15).max(1.0);
    let ystep = nice_step(want / 5.0).max(1.0).round();
    let ymax = (want / ystep).ceil() * ystep;
    let y = |v: f64| bottom - (v.clamp(0.0, ymax) / ymax) * ph;
    let x = |p: f64| left + p.clamp(0.0, 1.0) * pw;

    let mut out = Canvas::new(
        W,
        H,
        &match marker {
            Some((_, what)) => {
                format!("Histogram of the p-values of {m} {unit}, with the {what}'s p-value")
            }
            None => format!("Histogram of the p-values of {m} {unit}"),
        },
    );
    let mut t = 0.0;
    while t <= ymax + 1e-9 {
        out.line((left, y(t)), (right, y(t)), &format!(r#"stroke="{GRID}""#));
        out.text(left - 6.0, y(t) + 4.0, "end", "", &compact(t));
        t += ystep;
    }
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let x0 = x(i as f64 / BINS as f64);
        let x1 = x((i + 1) as f64 / BINS as f64);
        let title = format!(
            "<title>{c} {unit} with p in [{:.2}, {:.2})</title>",
            i as f64 / BINS as f64,
            (i + 1) as f64 / BINS as f64,
        );
        let fill = format!(r#" fill="{BAR}" stroke="white""#);
        out.rect(
            x0,
            y(c as f64),
            x1 - x0,
            bottom - y(c as f64),
            &fill,
            &title,
        );
    }
    for i in 0..=5 {
        let p = i as f64 / 5.0;
        out.line(
            (x(p), bottom),
            (x(p), bottom + 5.0),
            &format!(r#"stroke="{INK}""#),
        );
        out.text(x(p), bottom + 18.0, "middle", "", &trim(p));
    }
    out.frame(&Frame {
        left,
        right,
        top,
        bottom,
        x_title: "p-value",
        y_title: unit,
    });

    if m == 0 {
        out.text(
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            "middle",
            &format!(r#" fill="{MUTED}""#),
            &format!("no {unit} were scored"),
        );
    } else {
        out.line(
            (left, y(expected)),
            (right, y(expected)),
            &format!(r#"stroke="{INK}" stroke-width="1.2" stroke-dasharray="5 4""#),
        );
        // Its legend goes under the axis, at the right, clear of the bars and the marker.
        let label = format!("if uniform: {} per bin", trim(expected));
        let (lx, ly) = (right - 150.0, H - 12.0);
        out.line(
            (lx - 30.0, ly - 4.0),
            (lx - 6.0, ly - 4.0),
            &format!(r#"stroke="{INK}" stroke-width="1.2" stroke-dasharray="5 4""#),
        );
        let muted = format!(r#" fill="{MUTED}""#);
        out.text(lx, ly, "start", &muted, &label);
    }

    // The marked p-value: a red marker from the top of the plot down to the axis.
    if let Some((lp, what)) = marker.filter(|(lp, _)| lp.is_finite()) {
        let p = 10f64.powf(lp.min(0.0));
        let px = x(p);
        out.line(
            (px, top - 8.0),
            (px, bottom),
            &format!(r#"stroke="{ALPHA_RED}" stroke-width="2.5""#),
        );
        let d = format!("M{} {} l-6 -9 h12 z", num(px), num(top - 4.0));
        out.path(&d, &format!(r#" fill="{ALPHA_RED}""#));
        let (anchor, dx) = if p < 0.5 {
            ("start", 9.0)
        } else {
            ("end", -9.0)
        };
        let label = format!("{what}: p = {}", fmt_p(lp));
        let bold = format!(r#" font-weight="bold" fill="{ALPHA_RED}"{HALO}"#);
        out.text(px + dx, top - 14.0, anchor, &bold, &label);
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_the_unit_interval() {
        let c = bin_counts(&[0.0, -0.0001, -0.31, -5000.0, f64::NEG_INFINITY, f64::NAN]);
        assert_eq!(c[BINS - 1], 2);
        assert_eq!(c[0], 2);
        assert_eq!(c[(0.49 * BINS as f64) as usize], 1);
        assert_eq!(c.iter().sum::<usize>(), 5);
    }
}
