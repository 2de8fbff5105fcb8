//! Small SVG line plots for reports (curves, residuals, the MSE landscape), written by hand: a plot
//! needs axes, ticks, lines, markers and a legend, which is less code than a plotting dependency.

use std::fmt::Write;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    Line,
    DashedLine,
    Markers,
}

/// One named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    pub colour: &'static str,
}

/// A plot: title, axis labels and its series.
#[derive(Debug, Clone)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;

/// About five round tick values covering [low, high].
fn ticks(low: f64, high: f64) -> Vec<f64> {
    let span = high - low;
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|n| n as f64 * step).collect()
}

fn format_tick(value: f64) -> String {
    if value == 0.0 {
        "0".into()
    } else if value.abs() >= 1e4 || value.abs() < 1e-2 {
        format!("{value:.1e}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Plot {
    /// The plot as an SVG document. Non-finite points are skipped.
    pub fn to_svg(&self) -> String {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        let all: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(finite).copied())
            .collect();
        let range = |values: Vec<f64>| {
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            match (low.is_finite(), high > low) {
                (true, true) => {
                    let pad = 0.05 * (high - low);
                    (low - pad, high + pad)
                }
                (true, false) => (low - 1.0, low + 1.0),
                _ => (0.0, 1.0),
            }
        };
        let (x0, x1) = range(all.iter().map(|p| p.0).collect());
        let (y0, y1) = range(all.iter().map(|p| p.1).collect());
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * plot_w;
        let sy = |y: f64| TOP + (y1 - y) / (y1 - y0) * plot_h;
        let mut svg = String::new();
        // Writing into a String cannot fail.
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        let _ = writeln!(
            svg,
            r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
        );
        for x in ticks(x0, x1) {
            let px = sx(x);
            let _ = writeln!(
                svg,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{}" stroke="#ddd"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 16.0,
                format_tick(x)
            );
        }
        for y in ticks(y0, y1) {
            let py = sy(y);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                py + 4.0,
                format_tick(y)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 12.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
            TOP + plot_h / 2.0,
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        for (index, series) in self.series.iter().enumerate() {
            let points: Vec<(f64, f64)> = series.points.iter().filter(finite).copied().collect();
            match series.style {
                Style::Markers => {
                    for (x, y) in &points {
                        let _ = writeln!(
                            svg,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="none" stroke="{}" stroke-width="1.5"/>"#,
                            sx(*x),
                            sy(*y),
                            series.colour
                        );
                    }
                }
                Style::Line | Style::DashedLine => {
                    let path: Vec<String> = points
                        .iter()
                        .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
                        .collect();
                    let dash = if series.style == Style::DashedLine {
                        r#" stroke-dasharray="6 4""#
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        svg,
                        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8"{dash}/>"#,
                        path.join(" "),
                        series.colour
                    );
                }
            }
            let ly = TOP + 16.0 + 16.0 * index as f64;
            let lx = LEFT + 12.0;
            let _ = writeln!(
                svg,
                r#"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
                ly - 4.0,
                lx + 18.0,
                ly - 4.0,
                series.colour,
                lx + 24.0,
                ly,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let unit = ticks(0.0, 1.0);
        assert_eq!(unit.len(), 6);
        for (n, t) in unit.iter().enumerate() {
            assert!((t - 0.2 * n as f64).abs() < 1e-12, "{unit:?}");
        }
        let t = ticks(-21.0, -16.0);
        assert_eq!(t.first(), Some(&-21.0));
        assert_eq!(t.last(), Some(&-16.0));
    }

    #[test]
    fn svg_has_every_series_and_escapes_text() {
        let plot = Plot {
            title: "a < b".into(),
            x_label: "t (s)".into(),
            y_label: "α".into(),
            series: vec![
                Series {
                    name: "measured".into(),
                    points: vec![(0.0, 0.0), (1.0, f64::NAN), (2.0, 0.5)],
                    style: Style::Markers,
                    colour: "black",
                },
                Series {
                    name: "fit".into(),
                    points: vec![(0.0, 0.0), (2.0, 0.6)],
                    style: Style::DashedLine,
                    colour: "blue",
                },
            ],
        };
        let svg = plot.to_svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "the NaN point is skipped"
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("a &lt; b"));
    }
}
