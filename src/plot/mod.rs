//! Report figures drawn with `plotters`: line plots (the alloying curve, the residuals, the MSE
//! landscape) as SVG and PNG, and the slice montage ([`slices`]) as PNG. Text uses the DejaVu Sans
//! font embedded from assets/fonts, so figures look the same on every machine, headless nodes
//! included, and unicode (m²/s, ±, α, log₁₀) renders as such.

pub mod slices;

use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// The family name figures ask for; [`register_font`] maps it to the embedded font.
const FONT: &str = "sans-serif";

/// Registers the embedded font once per process.
fn register_font() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the embedded font assets/fonts/DejaVuSans.ttf is valid"));
    });
}

/// A plotters error as an anyhow error (plotters' own errors borrow nothing, but are generic over
/// the backend).
fn drawing_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a figure: {error}")
}

/// Encodes 8-bit RGB pixels as a PNG file.
fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    pub const BLUE: Rgb = Rgb(0x1f, 0x5f, 0xbf);
    pub const RED: Rgb = Rgb(0xc0, 0x39, 0x2b);
    pub const GREEN: Rgb = Rgb(0x27, 0x88, 0x4a);

    fn colour(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }
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

/// A line plot: title, axis labels and its series.
#[derive(Debug, Clone)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// A thin horizontal line at this y, such as zero under residuals (not in the legend).
    pub baseline_y: Option<f64>,
}

/// The SVG's size in user units; the PNG is drawn at [`PNG_SCALE`] times this.
const SIZE: (u32, u32) = (640, 420);
/// Pixels per SVG unit of the PNG: sharp on slides and in print at a column's width.
const PNG_SCALE: u32 = 2;
/// A legend row's height, in SVG units; the legend takes a band above the data this tall per row.
const LEGEND_ROW: f64 = 19.0;

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

/// A tick label: no trailing zeros, and a true minus sign.
fn tick_label(value: &f64) -> String {
    let text = if (value - value.round()).abs() <= 1e-9 * value.abs().max(1.0) {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').to_owned()
    };
    match text.as_str() {
        "-0" => "0".to_owned(),
        _ => text.replace('-', "−"),
    }
}

impl Figure {
    /// The figure as an SVG document.
    pub fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            self.draw(&root, 1)?;
            root.present().map_err(drawing_error)?;
        }
        Ok(svg)
    }

    /// The figure as a PNG image, [`PNG_SCALE`] pixels per SVG unit.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let size = (SIZE.0 * PNG_SCALE, SIZE.1 * PNG_SCALE);
        let mut rgb = vec![0u8; (size.0 * size.1 * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
            self.draw(&root, PNG_SCALE)?;
            root.present().map_err(drawing_error)?;
        }
        encode_png(&rgb, size)
    }

    /// Draws the figure at `scale` pixels per SVG unit. Non-finite points are left out. The legend
    /// sits in a band above the data, so it never covers a point or a curve.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, scale: u32) -> Result<()> {
        register_font();
        let px = |units: u32| units * scale;
        let font = |size: u32| (FONT, px(size)).into_font();
        root.fill(&WHITE).map_err(drawing_error)?;
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        let all = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().filter(finite).copied())
        };
        let (x0, x1) = axis_range(all().map(|p| p.0));
        let (y0, y1) = axis_range(all().map(|p| p.1).chain(self.baseline_y));
        // The plotting area is about 300 units tall; the legend's band is its rows' share of that.
        let band = (self.series.len() as f64 * LEGEND_ROW + 12.0) / 300.0;
        let y1 = y1 + band * (y1 - y0) / (1.0 - band);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(16))
            .margin(px(12))
            .x_label_area_size(px(44))
            .y_label_area_size(px(62))
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(font(12))
            .x_label_formatter(&tick_label)
            .y_label_formatter(&tick_label)
            .axis_desc_style(font(13))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd).stroke_width(px(1)))
            .light_line_style(TRANSPARENT)
            .axis_style(BLACK.stroke_width(px(1)))
            .draw()
            .map_err(drawing_error)?;
        if let Some(y) = self.baseline_y {
            let line = LineSeries::new([(x0, y), (x1, y)], BLACK.stroke_width(px(1)));
            chart.draw_series(line).map_err(drawing_error)?;
        }
        for series in &self.series {
            let colour = series.colour.colour();
            let line = colour.stroke_width(px(2));
            let points: Vec<(f64, f64)> = series.points.iter().filter(finite).copied().collect();
            let drawn = match series.style {
                Style::Line => chart.draw_series(LineSeries::new(points, line)),
                Style::DashedLine => {
                    chart.draw_series(DashedLineSeries::new(points, px(7), px(4), line))
                }
                Style::Markers => chart.draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, px(4), colour.stroke_width(px(2)))),
                ),
            }
            .map_err(drawing_error)?;
            let style = series.style;
            drawn.label(&series.name).legend(move |(x, y)| {
                let from = |offset: u32| (x + px(offset) as i32, y);
                let marker: DynElement<DB, (i32, i32)> = match style {
                    Style::Markers => Circle::new(from(9), px(4), line).into_dyn(),
                    Style::Line => PathElement::new(vec![from(0), from(18)], line).into_dyn(),
                    Style::DashedLine => {
                        DashedPathElement::new(vec![from(0), from(18)], px(7), px(4), line)
                            .into_dyn()
                    }
                };
                marker
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .margin(px(6))
            .legend_area_size(px(24))
            .label_font(font(12))
            .background_style(WHITE)
            .border_style(TRANSPARENT)
            .draw()
            .map_err(drawing_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure() -> Figure {
        Figure {
            title: "a < b".into(),
            x_label: "t (s)".into(),
            y_label: "α (m²/s ± 1)".into(),
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
            baseline_y: None,
        }
    }

    #[test]
    fn tick_labels_are_short_with_a_true_minus() {
        assert_eq!(tick_label(&100.0), "100");
        assert_eq!(tick_label(&-18.5), "−18.5");
        assert_eq!(tick_label(&0.25), "0.25");
        assert_eq!(tick_label(&-0.0), "0");
    }

    #[test]
    fn svg_has_every_series_escapes_text_and_keeps_unicode() {
        let svg = figure().to_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // Two measured markers (the NaN point is skipped) and the legend's marker.
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains("m²/s ±"));
    }
}
