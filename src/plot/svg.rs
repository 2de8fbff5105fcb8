//! A [`Drawing`] as an SVG document.

use std::fmt::Write;

use super::{Anchor, DASH, Drawing, Rgb, Shape};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl std::fmt::Display for Rgb {
    /// `#rrggbb`, as SVG and CSS write colours.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

impl Drawing {
    pub fn to_svg(&self) -> String {
        let (width, height) = (self.width, self.height);
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
"#
        );
        for shape in &self.shapes {
            // Writing into a String cannot fail.
            let _ = match shape {
                Shape::Rect {
                    x,
                    y,
                    width,
                    height,
                    stroke,
                } => writeln!(
                    svg,
                    r#"<rect x="{x}" y="{y}" width="{width}" height="{height}" fill="none" stroke="{stroke}"/>"#
                ),
                Shape::Polyline {
                    points,
                    colour,
                    width,
                    dashed,
                } => {
                    let path: Vec<String> = points
                        .iter()
                        .map(|(x, y)| format!("{x:.1},{y:.1}"))
                        .collect();
                    let dash = if *dashed {
                        format!(r#" stroke-dasharray="{} {}""#, DASH.0, DASH.1)
                    } else {
                        String::new()
                    };
                    writeln!(
                        svg,
                        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}/>"#,
                        path.join(" ")
                    )
                }
                Shape::Circle {
                    x,
                    y,
                    radius,
                    colour,
                    width,
                } => writeln!(
                    svg,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="{radius}" fill="none" stroke="{colour}" stroke-width="{width}"/>"#
                ),
                Shape::Text {
                    x,
                    y,
                    text,
                    size,
                    anchor,
                    vertical,
                } => {
                    let anchor = match anchor {
                        Anchor::Start => "start",
                        Anchor::Middle => "middle",
                        Anchor::End => "end",
                    };
                    let turn = if *vertical {
                        format!(r#" transform="rotate(-90 {x:.1} {y:.1})""#)
                    } else {
                        String::new()
                    };
                    writeln!(
                        svg,
                        r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}"{turn}>{}</text>"#,
                        escape(text)
                    )
                }
            };
        }
        svg.push_str("</svg>\n");
        svg
    }
}
