//! The slice montage (slices.png, as the paper's Fig. 2d): for each time, the central slice of the
//! measured reconstruction above the simulated one, on one shared grey scale.

use ndarray::{Array2, Axis};

use super::Anchor;
use super::Rgb;
use super::raster::{Canvas, text_width};
use crate::stats;
use crate::volume::{Mask, Volume};

/// Target tile size in pixels; slices are magnified by a whole factor to reach it.
const TILE_PIXELS: usize = 160;
const GAP: usize = 8;
const LABEL_MAGNIFICATION: usize = 2;
/// The shared grey scale spans these percentiles of every panel's values, so a few hot voxels do
/// not wash the rest out.
const SCALE_PERCENTILES: (f64, f64) = (0.5, 99.5);
/// The grey bar's length in label glyphs, and what it shows.
const BAR_GLYPHS: usize = 20;
const BAR_CAPTION: &str = "intensity / particle mean (shared scale)";

/// The k (tilt-axis) index through the centre of `mask`: the slice perpendicular to the tilt axis
/// that cuts the particle's middle.
pub fn central_k(mask: &Mask) -> usize {
    let (sum, count) = mask
        .data()
        .indexed_iter()
        .filter(|(_, inside)| **inside)
        .fold((0usize, 0usize), |(sum, count), ((k, _, _), _)| {
            (sum + k, count + 1)
        });
    sum.checked_div(count).unwrap_or(mask.shape()[0] / 2)
}

/// Slice `k` of `volume` in units of the particle's mean intensity: background subtracted, then
/// divided by the mean inside `mask`. This puts reconstructions of different dose and units on one
/// scale.
pub fn normalised_slice(volume: &Volume, mask: &Mask, background: f64, k: usize) -> Array2<f32> {
    let (sum, count) = volume
        .data()
        .iter()
        .zip(mask.data())
        .filter(|(_, inside)| **inside)
        .fold((0.0, 0usize), |(sum, count), (v, _)| {
            (sum + f64::from(*v) - background, count + 1)
        });
    let mean = if count > 0 && sum > 0.0 {
        sum / count as f64
    } else {
        1.0
    };
    volume
        .data()
        .index_axis(Axis(0), k)
        .mapv(|v| ((f64::from(v) - background) / mean) as f32)
}

fn grey(value: f32, (low, high): (f64, f64)) -> Rgb {
    let level = ((f64::from(value) - low) / (high - low)).clamp(0.0, 1.0);
    let byte = (255.0 * level).round() as u8;
    Rgb(byte, byte, byte)
}

fn draw_slice(
    canvas: &mut Canvas,
    slice: &Array2<f32>,
    (x, y): (usize, usize),
    pixel: usize,
    scale: (f64, f64),
) {
    for ((row, column), value) in slice.indexed_iter() {
        canvas.fill_rect(
            x + column * pixel,
            y + row * pixel,
            pixel,
            pixel,
            grey(*value, scale),
        );
    }
}

/// The montage: one column per time (`measured[n]` above `simulated[n]`), a title, and a grey bar
/// with the shared scale's ends.
pub fn montage(
    title: &str,
    times_s: &[f64],
    measured: &[Array2<f32>],
    simulated: &[Array2<f32>],
) -> Canvas {
    let all: Vec<f32> = measured
        .iter()
        .chain(simulated)
        .flat_map(|s| s.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    let low = stats::percentile(&all, SCALE_PERCENTILES.0).unwrap_or(0.0);
    let high = stats::percentile(&all, SCALE_PERCENTILES.1).unwrap_or(1.0);
    let scale = if high > low {
        (low, high)
    } else {
        (low, low + 1.0)
    };
    let (rows, columns) = measured.first().map_or((1, 1), |s| s.dim());
    let pixel = (TILE_PIXELS / rows.max(columns)).max(1);
    let (tile_w, tile_h) = (columns * pixel, rows * pixel);
    let glyph = 8 * LABEL_MAGNIFICATION;
    let left = text_width("simulated", LABEL_MAGNIFICATION) + 2 * GAP;
    let top = 2 * glyph + 3 * GAP;
    let bar_top = top + 2 * (tile_h + GAP) + GAP;
    let bar_width = BAR_GLYPHS * glyph;
    let width = (left + times_s.len() * (tile_w + GAP))
        .max(text_width(title, LABEL_MAGNIFICATION) + 2 * GAP)
        .max(left + bar_width + 3 * GAP + text_width(BAR_CAPTION, LABEL_MAGNIFICATION));
    let height = bar_top + glyph + 3 * GAP + glyph;
    let mut canvas = Canvas::new(width, height);
    let label = |canvas: &mut Canvas, x: usize, y: usize, text: &str, anchor| {
        canvas.text(
            (x as f64, y as f64),
            text,
            LABEL_MAGNIFICATION,
            anchor,
            false,
        );
    };
    label(&mut canvas, GAP, glyph + GAP, title, Anchor::Start);
    for (n, t_s) in times_s.iter().enumerate() {
        let x = left + n * (tile_w + GAP);
        label(
            &mut canvas,
            x + tile_w / 2,
            top - GAP,
            &format!("{t_s} s"),
            Anchor::Middle,
        );
        if let Some(slice) = measured.get(n) {
            draw_slice(&mut canvas, slice, (x, top), pixel, scale);
        }
        if let Some(slice) = simulated.get(n) {
            draw_slice(&mut canvas, slice, (x, top + tile_h + GAP), pixel, scale);
        }
    }
    label(
        &mut canvas,
        GAP,
        top + tile_h / 2 + glyph / 2,
        "measured",
        Anchor::Start,
    );
    label(
        &mut canvas,
        GAP,
        top + tile_h + GAP + tile_h / 2 + glyph / 2,
        "simulated",
        Anchor::Start,
    );
    for column in 0..bar_width {
        let value = scale.0 + (scale.1 - scale.0) * column as f64 / (bar_width - 1) as f64;
        canvas.fill_rect(left + column, bar_top, 1, glyph, grey(value as f32, scale));
    }
    let bar_label_y = bar_top + glyph + GAP + glyph;
    label(
        &mut canvas,
        left,
        bar_label_y,
        &format!("{:.2}", scale.0),
        Anchor::Start,
    );
    label(
        &mut canvas,
        left + bar_width,
        bar_label_y,
        &format!("{:.2}", scale.1),
        Anchor::End,
    );
    label(
        &mut canvas,
        left + bar_width + 2 * GAP,
        bar_top + glyph,
        BAR_CAPTION,
        Anchor::Start,
    );
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn slices_are_scaled_to_the_particle_mean_and_shared_scale_is_used() {
        let mut data = Array3::<f32>::from_elem((5, 4, 4), 1.0);
        let mut inside = Array3::from_elem((5, 4, 4), false);
        for k in 1..4 {
            for i in 1..3 {
                for j in 1..3 {
                    data[[k, i, j]] = 5.0;
                    inside[[k, i, j]] = true;
                }
            }
        }
        let volume = Volume::new(data, 1.0).unwrap();
        let mask = Mask::new(inside, 1.0).unwrap();
        assert_eq!(central_k(&mask), 2);
        let slice = normalised_slice(&volume, &mask, 1.0, 2);
        assert_eq!(slice[[1, 1]], 1.0);
        assert_eq!(slice[[0, 0]], 0.0);
        let bright = slice.mapv(|v| 2.0 * v);
        let canvas = montage("t", &[0.0], &[slice], &[bright]);
        let pixel = TILE_PIXELS / 4;
        let left = text_width("simulated", LABEL_MAGNIFICATION) + 2 * GAP;
        let top = 2 * 8 * LABEL_MAGNIFICATION + 3 * GAP;
        let measured_inside = canvas.pixel(left + pixel + 1, top + pixel + 1);
        let simulated_inside = canvas.pixel(left + pixel + 1, top + 4 * pixel + GAP + pixel + 1);
        assert!(
            measured_inside.0 < simulated_inside.0,
            "{measured_inside:?} vs {simulated_inside:?}"
        );
        assert_eq!(simulated_inside, Rgb::WHITE);
    }
}
