//! A small RGB raster for report figures: anti-aliased strokes, text in the public-domain 8×8
//! bitmap font of the `font8x8` crate (no system fonts needed on a compute node), grey images,
//! and PNG encoding.

use anyhow::{Context, Result};
use font8x8::UnicodeFonts;

use super::{Anchor, DASH, Drawing, Rgb, Shape};

/// Pixels per glyph side at magnification 1.
const GLYPH_PIXELS: usize = 8;

/// An RGB image, white to start with.
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
}

/// The 8×8 bitmap of `c` (one byte per row, bit 0 leftmost); '?' for characters the font lacks.
fn glyph(c: char) -> [u8; 8] {
    let c = if c == '−' { '-' } else { c };
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::LATIN_FONTS.get(c))
        .or_else(|| font8x8::GREEK_FONTS.get(c))
        .or_else(|| font8x8::BASIC_FONTS.get('?'))
        .unwrap_or_default()
}

/// The width in pixels of `text` drawn at `magnification`.
pub fn text_width(text: &str, magnification: usize) -> usize {
    text.chars().count() * GLYPH_PIXELS * magnification
}

/// Distance from `p` to the segment from `a` to `b`.
fn distance_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length2 = dx * dx + dy * dy;
    let t = if length2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}

/// The drawn pieces of a dashed polyline, the dash pattern running on across its corners.
fn dash_pieces(points: &[(f64, f64)], on: f64, off: f64) -> Vec<((f64, f64), (f64, f64))> {
    let mut pieces = Vec::new();
    let mut phase = 0.0;
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let length = (b.0 - a.0).hypot(b.1 - a.1);
        let at = |s: f64| {
            (
                a.0 + (b.0 - a.0) * s / length,
                a.1 + (b.1 - a.1) * s / length,
            )
        };
        let mut s = 0.0;
        while s < length {
            let in_period = phase % (on + off);
            let (drawing, left) = if in_period < on {
                (true, on - in_period)
            } else {
                (false, on + off - in_period)
            };
            let step = left.min(length - s);
            if drawing {
                pieces.push((at(s), at(s + step)));
            }
            s += step;
            phase += step;
        }
    }
    pieces
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![Rgb::WHITE; width * height],
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        self.pixels[y * self.width + x]
    }

    /// Mixes `colour` into the pixel at (x, y) with weight `coverage` in [0, 1]; outside is ignored.
    fn blend(&mut self, x: i64, y: i64, colour: Rgb, coverage: f64) {
        if coverage <= 0.0
            || x < 0
            || y < 0
            || x as usize >= self.width
            || y as usize >= self.height
        {
            return;
        }
        let pixel = &mut self.pixels[y as usize * self.width + x as usize];
        let mix = |old: u8, new: u8| {
            (f64::from(old) + (f64::from(new) - f64::from(old)) * coverage.min(1.0)).round() as u8
        };
        *pixel = Rgb(
            mix(pixel.0, colour.0),
            mix(pixel.1, colour.1),
            mix(pixel.2, colour.2),
        );
    }

    /// Paints every pixel whose centre lies within `reach` of the box around a shape, with the
    /// coverage `coverage(centre)` gives.
    fn paint(
        &mut self,
        low: (f64, f64),
        high: (f64, f64),
        colour: Rgb,
        coverage: impl Fn((f64, f64)) -> f64,
    ) {
        let (x0, y0) = (low.0.floor() as i64, low.1.floor() as i64);
        let (x1, y1) = (high.0.ceil() as i64, high.1.ceil() as i64);
        for y in y0.max(0)..=y1.min(self.height as i64 - 1) {
            for x in x0.max(0)..=x1.min(self.width as i64 - 1) {
                let centre = (x as f64 + 0.5, y as f64 + 0.5);
                self.blend(x, y, colour, coverage(centre));
            }
        }
    }

    /// A straight stroke `width` pixels wide, edges anti-aliased over one pixel.
    pub fn stroke_segment(&mut self, a: (f64, f64), b: (f64, f64), width: f64, colour: Rgb) {
        let reach = width / 2.0 + 1.0;
        self.paint(
            (a.0.min(b.0) - reach, a.1.min(b.1) - reach),
            (a.0.max(b.0) + reach, a.1.max(b.1) + reach),
            colour,
            |p| (width / 2.0 + 0.5 - distance_to_segment(p, a, b)).clamp(0.0, 1.0),
        );
    }

    /// A circle outline.
    pub fn stroke_circle(&mut self, centre: (f64, f64), radius: f64, width: f64, colour: Rgb) {
        let reach = radius + width / 2.0 + 1.0;
        self.paint(
            (centre.0 - reach, centre.1 - reach),
            (centre.0 + reach, centre.1 + reach),
            colour,
            |p| {
                let off_ring = ((p.0 - centre.0).hypot(p.1 - centre.1) - radius).abs();
                (width / 2.0 + 0.5 - off_ring).clamp(0.0, 1.0)
            },
        );
    }

    /// Fills the `width` × `height` pixels from (x, y).
    pub fn fill_rect(&mut self, x: usize, y: usize, width: usize, height: usize, colour: Rgb) {
        for row in y..(y + height).min(self.height) {
            for column in x..(x + width).min(self.width) {
                self.pixels[row * self.width + column] = colour;
            }
        }
    }

    /// `text` with its baseline at `y`, each font pixel drawn as a `magnification`² block;
    /// `vertical` text reads upwards, turned about (x, y). A superscript two, which the 8×8 font
    /// draws too small to read, is written `^2`.
    pub fn text(
        &mut self,
        (x, y): (f64, f64),
        text: &str,
        magnification: usize,
        anchor: Anchor,
        vertical: bool,
    ) {
        let text = text.replace('²', "^2");
        let m = magnification.max(1) as i64;
        let width = text_width(&text, magnification) as i64;
        let start = match anchor {
            Anchor::Start => 0,
            Anchor::Middle => -width / 2,
            Anchor::End => -width,
        };
        let (x, y) = (x.round() as i64, y.round() as i64);
        // Rows 0..7 of a glyph sit above the baseline, row 7 (descenders) below it.
        for (n, c) in text.chars().enumerate() {
            for (row, bits) in glyph(c).iter().enumerate() {
                for column in 0..GLYPH_PIXELS {
                    if bits & (1 << column) == 0 {
                        continue;
                    }
                    let along = start + (n * GLYPH_PIXELS + column) as i64 * m;
                    let down = (row as i64 - 7) * m;
                    for dy in 0..m {
                        for dx in 0..m {
                            let (px, py) = if vertical {
                                (x + down + dy, y - along - dx)
                            } else {
                                (x + along + dx, y + down + dy)
                            };
                            self.blend(px, py, Rgb::BLACK, 1.0);
                        }
                    }
                }
            }
        }
    }

    /// The image as a PNG file (8-bit RGB).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("PNG header")?;
        let data: Vec<u8> = self.pixels.iter().flat_map(|p| [p.0, p.1, p.2]).collect();
        writer.write_image_data(&data).context("PNG data")?;
        writer.finish().context("PNG end")?;
        Ok(bytes)
    }
}

impl Drawing {
    /// The drawing painted at `scale` pixels per drawing unit.
    pub fn to_canvas(&self, scale: f64) -> Canvas {
        let mut canvas = Canvas::new(
            (self.width * scale).ceil() as usize,
            (self.height * scale).ceil() as usize,
        );
        let at = |(x, y): (f64, f64)| (x * scale, y * scale);
        for shape in &self.shapes {
            match shape {
                Shape::Rect {
                    x,
                    y,
                    width,
                    height,
                    stroke,
                } => {
                    let corners = [
                        (*x, *y),
                        (x + width, *y),
                        (x + width, y + height),
                        (*x, y + height),
                        (*x, *y),
                    ];
                    for pair in corners.windows(2) {
                        canvas.stroke_segment(at(pair[0]), at(pair[1]), scale, *stroke);
                    }
                }
                Shape::Polyline {
                    points,
                    colour,
                    width,
                    dashed,
                } => {
                    let scaled: Vec<(f64, f64)> = points.iter().copied().map(at).collect();
                    let pieces = if *dashed {
                        dash_pieces(&scaled, DASH.0 * scale, DASH.1 * scale)
                    } else {
                        scaled.windows(2).map(|pair| (pair[0], pair[1])).collect()
                    };
                    for (a, b) in pieces {
                        canvas.stroke_segment(a, b, width * scale, *colour);
                    }
                }
                Shape::Circle {
                    x,
                    y,
                    radius,
                    colour,
                    width,
                } => canvas.stroke_circle(at((*x, *y)), radius * scale, width * scale, *colour),
                Shape::Text {
                    x,
                    y,
                    text,
                    size,
                    anchor,
                    vertical,
                } => {
                    let magnification = (size * scale / GLYPH_PIXELS as f64).round() as usize;
                    canvas.text(at((*x, *y)), text, magnification, *anchor, *vertical);
                }
            }
        }
        canvas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stroke_covers_its_width_and_nothing_far_from_it() {
        let mut canvas = Canvas::new(20, 20);
        canvas.stroke_segment((2.0, 10.0), (18.0, 10.0), 2.0, Rgb::BLACK);
        assert_eq!(canvas.pixel(10, 9), Rgb::BLACK);
        assert_eq!(canvas.pixel(10, 10), Rgb::BLACK);
        assert_eq!(canvas.pixel(10, 5), Rgb::WHITE);
        assert_eq!(canvas.pixel(10, 14), Rgb::WHITE);
    }

    #[test]
    fn dashes_follow_the_pattern_across_corners() {
        let pieces = dash_pieces(&[(0.0, 0.0), (5.0, 0.0), (5.0, 15.0)], 6.0, 4.0);
        let drawn: f64 = pieces
            .iter()
            .map(|(a, b)| (b.0 - a.0).hypot(b.1 - a.1))
            .sum();
        // 20 units of path: on 0–6 and 10–16, so 12 drawn, the first dash turning the corner.
        assert!((drawn - 12.0).abs() < 1e-9, "{drawn}");
        assert_eq!(pieces.len(), 3);
    }

    #[test]
    fn text_is_drawn_where_anchored_and_png_round_trips_its_size() {
        let mut canvas = Canvas::new(40, 12);
        canvas.text((20.0, 9.0), "I", 1, Anchor::Middle, false);
        let inked: Vec<usize> = (0..40)
            .filter(|&x| (0..12).any(|y| canvas.pixel(x, y) == Rgb::BLACK))
            .collect();
        assert!(!inked.is_empty() && inked.iter().all(|&x| (16..24).contains(&x)));
        let png = canvas.to_png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (40, 12));
    }
}
