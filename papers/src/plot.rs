//! A small SVG line chart: categories on x, a logarithmic y axis, one line per series, drawn
//! with the report's [`Canvas`].

use tracemark_report::svg::{Canvas, Frame, GRID, MUTED, SERIES};

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

/// Renders the chart as a standalone SVG file. `floor` is the smallest y shown (the log
/// axis cannot reach 0); a dashed line marks `threshold` when given.
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
    let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let (right, bottom) = (LEFT + plot_w, TOP + plot_h);
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / categories.len().max(1) as f64;
    let y = |v: f64| TOP + plot_h * (1.0 - (v.max(floor).log10() - lo) / (hi - lo));
    let mut svg = Canvas::standalone(W, H, title);
    svg.text(
        LEFT + plot_w / 2.0,
        22.0,
        "middle",
        r#" font-size="14""#,
        title,
    );
    // Decade grid lines and labels, the categories, the axes.
    let mut decade = lo;
    while decade <= hi {
        let yy = y(10f64.powf(decade));
        svg.line((LEFT, yy), (right, yy), &format!(r#"stroke="{GRID}""#));
        svg.text(LEFT - 6.0, yy + 4.0, "end", "", &format!("1e{decade}"));
        decade += 1.0;
    }
    for (i, c) in categories.iter().enumerate() {
        svg.text(x(i), bottom + 18.0, "middle", "", c);
    }
    svg.frame(&Frame {
        left: LEFT,
        right,
        top: TOP,
        bottom,
        x_title: x_label,
        y_title: y_label,
    });
    if let Some((t, label)) = threshold {
        let yy = y(t);
        let style = format!(r#"stroke="{MUTED}" stroke-dasharray="5 4""#);
        svg.line((LEFT, yy), (right, yy), &style);
        svg.text(
            LEFT + 4.0,
            yy - 4.0,
            "start",
            &format!(r#" fill="{MUTED}""#),
            label,
        );
    }
    for (k, s) in series.iter().enumerate() {
        let color = SERIES[k % SERIES.len()];
        let points: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| (x(i), y(v)))
            .collect();
        let style = format!(r#"fill="none" stroke="{color}" stroke-width="2""#);
        svg.polyline(&points, &style);
        for &p in &points {
            svg.circle(p, 3.0, color);
        }
        let (lx, ly) = (right + 12.0, TOP + 10.0 + 20.0 * k as f64);
        let style = format!(r#"stroke="{color}" stroke-width="2""#);
        svg.line((lx, ly), (lx + 18.0, ly), &style);
        svg.text(lx + 24.0, ly + 4.0, "start", "", &s.name);
    }
    let mut out = svg.finish();
    out.push('\n');
    out
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
