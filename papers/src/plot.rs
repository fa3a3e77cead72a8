//! A small SVG line chart: categories on x, a logarithmic y axis, one line per series.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// One value per category; non-positive values are drawn at the axis floor.
    pub values: Vec<f64>,
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Renders the chart. `floor` is the smallest y shown (the log axis cannot reach 0); a
/// dashed line marks `threshold` when given.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    categories: &[String],
    series: &[Series],
    floor: f64,
    threshold: Option<(f64, &str)>,
) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(floor * 10.0, f64::max);
    let (lo, hi) = (floor.log10().floor(), max.log10().ceil());
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / categories.len().max(1) as f64;
    let y = |v: f64| TOP + plot_h * (1.0 - (v.max(floor).log10() - lo) / (hi - lo));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        LEFT + plot_w / 2.0,
        escape(title)
    );
    // Axes, decade grid lines and labels.
    let mut decade = lo;
    while decade <= hi {
        let yy = y(10f64.powf(decade));
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">1e{decade}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0
        );
        decade += 1.0;
    }
    for (i, c) in categories.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(i),
            TOP + plot_h + 18.0,
            escape(c)
        );
    }
    let _ = write!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        H - 14.0,
        escape(x_label)
    );
    let _ = write!(
        svg,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    if let Some((t, label)) = threshold {
        let yy = y(t);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#888" stroke-dasharray="5,4"/><text x="{}" y="{:.1}" fill="#666">{}</text>"##,
            LEFT + plot_w,
            LEFT + 4.0,
            yy - 4.0,
            escape(label)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            points.join(" ")
        );
        for p in &points {
            let (px, py) = p.split_once(',').expect("formatted as x,y");
            let _ = write!(svg, r#"<circle cx="{px}" cy="{py}" r="3" fill="{color}"/>"#);
        }
        let ly = TOP + 10.0 + 20.0 * k as f64;
        let lx = LEFT + plot_w + 12.0;
        let _ = write!(
            svg,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn larger_values_are_drawn_higher_and_the_floor_clamps() {
        let svg = line_chart(
            "t",
            "x",
            "y",
            &["a".into(), "b".into(), "c".into()],
            &[Series {
                name: "s & t".into(),
                values: vec![0.0, 10.0, 1000.0],
            }],
            0.1,
            Some((3.0, "p = 1e-3")),
        );
        let points = svg.split("points=\"").nth(1).unwrap();
        let ys: Vec<f64> = points
            .split('"')
            .next()
            .unwrap()
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert!(ys[0] > ys[1] && ys[1] > ys[2], "{ys:?}");
        assert!(svg.contains("s &amp; t") && svg.ends_with("</svg>\n"));
    }
}
