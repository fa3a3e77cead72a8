//! Hand-written SVG: a [`Canvas`] of text, lines and shapes, the axis [`Frame`] every chart
//! shares, and the number formats of axis labels. The evidence report's plots and the paper
//! reproductions' figures are all drawn with it.
//!
//! Every coordinate written goes through [`num`], which turns anything non-finite into 0, and
//! every string through [`escape`], so no data can break a picture.

use std::fmt::Write as _;

use crate::markup::escape;

/// Ink, shared with the report page's CSS.
pub const INK: &str = "#1f2933";
/// Secondary text.
pub const MUTED: &str = "#616e7c";
/// Grid lines.
pub const GRID: &str = "#e4e7eb";
/// The curve of the true key.
pub const CURVE: &str = "#1f4e99";
/// The significance level and the true key's marker.
pub const ALPHA_RED: &str = "#c62828";
/// Histogram bars.
pub const BAR: &str = "#9aa5b1";
/// Line colours of multi-series charts, in order.
pub const SERIES: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// A white outline behind a label, so it stays legible over lines and bars.
pub const HALO: &str =
    r#" stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke""#;

/// A coordinate or length with one decimal; 0 for anything non-finite.
pub fn num(v: f64) -> String {
    if v.is_finite() {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    } else {
        "0".to_string()
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) close to `raw`; 1 for nonsense.
pub fn nice_step(raw: f64) -> f64 {
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
pub fn compact(v: f64) -> String {
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

/// A number with at most two decimals and no trailing zeros.
pub fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A p-value tick from an integer log10: `1`, `0.1`, `0.01`, `1e-3`, `1e-5000`.
pub fn p_tick(log10: f64) -> String {
    match log10.round() as i64 {
        0 => "1".to_string(),
        -1 => "0.1".to_string(),
        -2 => "0.01".to_string(),
        e => format!("1e{e}"),
    }
}

/// The plot area of a chart inside its canvas, with its axis titles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame<'a> {
    /// x of the y axis.
    pub left: f64,
    /// x where the plot ends.
    pub right: f64,
    /// y where the plot starts.
    pub top: f64,
    /// y of the x axis.
    pub bottom: f64,
    /// Under the x axis.
    pub x_title: &'a str,
    /// Beside the y axis, rotated.
    pub y_title: &'a str,
}

/// An SVG picture being drawn.
#[derive(Debug, Clone)]
pub struct Canvas {
    out: String,
    width: f64,
    height: f64,
}

impl Canvas {
    /// An inline picture (for an HTML page) of `width` × `height`, with `label` as its
    /// accessible name and tooltip.
    pub fn new(width: f64, height: f64, label: &str) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{l}" font-size="12" fill="{INK}"><title>{l}</title>"#,
            w = num(width),
            h = num(height),
            l = escape(label),
        );
        Self { out, width, height }
    }

    /// A standalone `.svg` file: the XML namespace, a white background and a sans-serif font.
    pub fn standalone(width: f64, height: f64, label: &str) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="12" fill="{INK}"><title>{l}</title><rect width="{w}" height="{h}" fill="white"/>"#,
            w = num(width),
            h = num(height),
            l = escape(label),
        );
        Self { out, width, height }
    }

    /// The canvas width.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// The canvas height.
    pub fn height(&self) -> f64 {
        self.height
    }

    /// Text at (`x`, `y`) anchored `start`, `middle` or `end`; `extra` holds further
    /// attributes (with a leading space).
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, extra: &str, s: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{}" y="{}" text-anchor="{anchor}"{extra}>{}</text>"#,
            num(x),
            num(y),
            escape(s)
        );
    }

    /// A line with the given style attributes.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), style: &str) {
        let _ = write!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {style}/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    /// A rectangle; `extra` holds further attributes (with a leading space), `inner` any
    /// child elements such as a `<title>`.
    pub fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, extra: &str, inner: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}"{extra}"#,
            num(x),
            num(y),
            num(width),
            num(height)
        );
        if inner.is_empty() {
            self.out.push_str("/>");
        } else {
            let _ = write!(self.out, ">{inner}</rect>");
        }
    }

    /// A filled circle.
    pub fn circle(&mut self, (x, y): (f64, f64), r: f64, fill: &str) {
        let _ = write!(
            self.out,
            r#"<circle cx="{}" cy="{}" r="{}" fill="{fill}"/>"#,
            num(x),
            num(y),
            num(r)
        );
    }

    /// A line through `points`; `style` holds its attributes.
    pub fn polyline(&mut self, points: &[(f64, f64)], style: &str) {
        let points: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{},{}", num(x), num(y)))
            .collect();
        let _ = write!(
            self.out,
            r#"<polyline points="{}" {style}/>"#,
            points.join(" ")
        );
    }

    /// A path with data `d` (coordinates already formatted with [`num`]) and attributes.
    pub fn path(&mut self, d: &str, extra: &str) {
        let _ = write!(self.out, r#"<path d="{d}"{extra}/>"#);
    }

    /// The two axes of `frame` and their titles: the x title centred under the plot, the y
    /// title rotated beside it.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        let ink = format!(r#"stroke="{INK}""#);
        self.line((frame.left, frame.top), (frame.left, frame.bottom), &ink);
        self.line(
            (frame.left, frame.bottom),
            (frame.right, frame.bottom),
            &ink,
        );
        let x_title_y = self.height - 12.0;
        self.text(
            (frame.left + frame.right) / 2.0,
            x_title_y,
            "middle",
            "",
            frame.x_title,
        );
        let _ = write!(
            self.out,
            r#"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
            num((frame.top + frame.bottom) / 2.0),
            escape(frame.y_title)
        );
    }

    /// The finished picture.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
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
    fn pictures_escape_text_and_never_write_non_finite_numbers() {
        let mut c = Canvas::standalone(100.0, 50.0, "a <b> & c");
        c.text(f64::NAN, 5.0, "start", "", "x < y");
        c.polyline(&[(0.0, f64::INFINITY), (1.0, 2.0)], r#"fill="none""#);
        let svg = c.finish();
        assert!(
            svg.contains("a &lt;b&gt; &amp; c") && svg.contains("x &lt; y"),
            "{svg}"
        );
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(svg.starts_with("<svg xmlns") && svg.ends_with("</svg>"));
    }
}
