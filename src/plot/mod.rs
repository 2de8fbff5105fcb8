//! Report figures, drawn by hand: line plots (curves, residuals, the MSE landscape) and the slice
//! montage. A plot is laid out once as a [`Drawing`] of a few shapes, which [`svg`] writes as
//! vector graphics and [`raster`] paints into a PNG; that is less code than a plotting dependency
//! and needs no system fonts (the PNG text uses a built-in 8×8 bitmap font).

pub mod raster;
pub mod slices;
mod svg;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    pub const GRID: Rgb = Rgb(0xdd, 0xdd, 0xdd);
    pub const BLUE: Rgb = Rgb(0x1f, 0x5f, 0xbf);
    pub const RED: Rgb = Rgb(0xc0, 0x39, 0x2b);
    pub const GREEN: Rgb = Rgb(0x27, 0x88, 0x4a);
}

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
    pub colour: Rgb,
}

/// A plot: title, axis labels and its series.
#[derive(Debug, Clone)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// Where a text's anchor point sits along it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// One element of a drawing, in drawing units (an SVG user unit, a PNG pixel at scale 1).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        stroke: Rgb,
    },
    Polyline {
        points: Vec<(f64, f64)>,
        colour: Rgb,
        width: f64,
        dashed: bool,
    },
    Circle {
        x: f64,
        y: f64,
        radius: f64,
        colour: Rgb,
        width: f64,
    },
    /// Text with its baseline at `y`; `vertical` reads upwards, turned 90° anticlockwise about the
    /// anchor point.
    Text {
        x: f64,
        y: f64,
        text: String,
        size: f64,
        anchor: Anchor,
        vertical: bool,
    },
}

/// A white page of shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
}

/// Dash and gap lengths of dashed lines, in drawing units.
pub const DASH: (f64, f64) = (6.0, 4.0);

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;
const FONT_SIZE: f64 = 12.0;

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

/// The padded range of `values`, or a unit range when there is nothing finite to show.
fn axis_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    match (low.is_finite(), high > low) {
        (true, true) => {
            let pad = 0.05 * (high - low);
            (low - pad, high + pad)
        }
        (true, false) => (low - 1.0, low + 1.0),
        _ => (0.0, 1.0),
    }
}

fn text(x: f64, y: f64, text: &str, anchor: Anchor) -> Shape {
    Shape::Text {
        x,
        y,
        text: text.to_owned(),
        size: FONT_SIZE,
        anchor,
        vertical: false,
    }
}

fn segment(from: (f64, f64), to: (f64, f64), colour: Rgb, width: f64) -> Shape {
    Shape::Polyline {
        points: vec![from, to],
        colour,
        width,
        dashed: false,
    }
}

impl Plot {
    /// The plot laid out on a page: frame, grid, ticks, labels, series and legend. Non-finite
    /// points are left out.
    pub fn layout(&self) -> Drawing {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        let all = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().filter(finite).copied())
        };
        let (x0, x1) = axis_range(all().map(|p| p.0));
        let (y0, y1) = axis_range(all().map(|p| p.1));
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * plot_w;
        let sy = |y: f64| TOP + (y1 - y) / (y1 - y0) * plot_h;
        let mut shapes = vec![Shape::Text {
            x: WIDTH / 2.0,
            y: 22.0,
            text: self.title.clone(),
            size: 14.0,
            anchor: Anchor::Middle,
            vertical: false,
        }];
        for x in ticks(x0, x1) {
            let px = sx(x);
            shapes.push(segment((px, TOP), (px, TOP + plot_h), Rgb::GRID, 1.0));
            shapes.push(text(
                px,
                TOP + plot_h + 16.0,
                &format_tick(x),
                Anchor::Middle,
            ));
        }
        for y in ticks(y0, y1) {
            let py = sy(y);
            shapes.push(segment((LEFT, py), (LEFT + plot_w, py), Rgb::GRID, 1.0));
            shapes.push(text(LEFT - 6.0, py + 4.0, &format_tick(y), Anchor::End));
        }
        shapes.push(Shape::Rect {
            x: LEFT,
            y: TOP,
            width: plot_w,
            height: plot_h,
            stroke: Rgb::BLACK,
        });
        shapes.push(text(
            LEFT + plot_w / 2.0,
            HEIGHT - 12.0,
            &self.x_label,
            Anchor::Middle,
        ));
        shapes.push(Shape::Text {
            x: 16.0,
            y: TOP + plot_h / 2.0,
            text: self.y_label.clone(),
            size: FONT_SIZE,
            anchor: Anchor::Middle,
            vertical: true,
        });
        for (index, series) in self.series.iter().enumerate() {
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(finite)
                .map(|&(x, y)| (sx(x), sy(y)))
                .collect();
            match series.style {
                Style::Markers => shapes.extend(points.iter().map(|&(x, y)| Shape::Circle {
                    x,
                    y,
                    radius: 4.0,
                    colour: series.colour,
                    width: 1.5,
                })),
                Style::Line | Style::DashedLine => shapes.push(Shape::Polyline {
                    points,
                    colour: series.colour,
                    width: 1.8,
                    dashed: series.style == Style::DashedLine,
                }),
            }
            let legend_y = TOP + 16.0 + 16.0 * index as f64;
            let legend_x = LEFT + 12.0;
            shapes.push(segment(
                (legend_x, legend_y - 4.0),
                (legend_x + 18.0, legend_y - 4.0),
                series.colour,
                2.0,
            ));
            shapes.push(text(legend_x + 24.0, legend_y, &series.name, Anchor::Start));
        }
        Drawing {
            width: WIDTH,
            height: HEIGHT,
            shapes,
        }
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
                    colour: Rgb::BLACK,
                },
                Series {
                    name: "fit".into(),
                    points: vec![(0.0, 0.0), (2.0, 0.6)],
                    style: Style::DashedLine,
                    colour: Rgb::BLUE,
                },
            ],
        };
        let svg = plot.layout().to_svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "the NaN point is skipped"
        );
        assert_eq!(
            svg.matches("stroke-dasharray").count(),
            1,
            "one dashed series"
        );
        assert!(svg.contains("a &lt; b"));
    }
}
