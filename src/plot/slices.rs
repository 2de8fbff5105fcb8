//! The slice montage (slices.png, as the paper's Fig. 2d): for each time, the central slice of the
//! measured reconstruction above the simulated one, on one shared grey scale.

use anyhow::Result;
use ndarray::{Array2, Axis};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, drawing_error, encode_png, register_font};
use crate::stats;
use crate::volume::{Mask, Volume};

/// Target tile size in pixels; slices are magnified by a whole factor to reach it.
const TILE_PIXELS: usize = 160;
const GAP: usize = 12;
const LABEL_PIXELS: u32 = 18;
const TITLE_PIXELS: u32 = 20;
/// The shared grey scale spans these percentiles of every panel's values, so a few hot voxels do
/// not wash the rest out.
const SCALE_PERCENTILES: (f64, f64) = (0.5, 99.5);
/// The grey bar's length and height in pixels, and what it shows.
const BAR_PIXELS: (usize, usize) = (240, 16);
const BAR_CAPTION: &str = "intensity / particle mean (shared scale)";
/// The scale bar spans about this share of a tile, rounded to 1, 2 or 5 × 10ⁿ nm.
const SCALE_BAR_SHARE: f64 = 0.4;

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

/// Slice `k` of `volume` in units of the particle's mean intensity on that slice: background
/// subtracted, then divided by the mean inside `mask` on slice `k`. This puts reconstructions of
/// different dose and units on one scale, and needs no other slice of the volume.
pub fn normalised_slice(volume: &Volume, mask: &Mask, background: f64, k: usize) -> Array2<f32> {
    let slice = volume.data().index_axis(Axis(0), k);
    let (sum, count) = slice
        .iter()
        .zip(mask.data().index_axis(Axis(0), k))
        .filter(|(_, inside)| **inside)
        .fold((0.0, 0usize), |(sum, count), (v, _)| {
            (sum + f64::from(*v) - background, count + 1)
        });
    let mean = if count > 0 && sum > 0.0 {
        sum / count as f64
    } else {
        1.0
    };
    slice.mapv(|v| ((f64::from(v) - background) / mean) as f32)
}

fn grey(value: f32, (low, high): (f64, f64)) -> RGBColor {
    let level = ((f64::from(value) - low) / (high - low)).clamp(0.0, 1.0);
    let byte = (255.0 * level).round() as u8;
    RGBColor(byte, byte, byte)
}

/// The longest 1, 2 or 5 × 10ⁿ nm not over `nm`.
fn round_length_nm(nm: f64) -> f64 {
    let magnitude = 10f64.powf(nm.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&length| length <= nm)
        .unwrap_or(magnitude)
}

/// Pixel layout of the montage.
struct Layout {
    pixel: usize,
    tile: (usize, usize),
    left: usize,
    top: usize,
    bar_top: usize,
    size: (usize, usize),
}

impl Layout {
    fn new(title: &str, columns: usize, slice: (usize, usize)) -> Result<Layout> {
        let text_width = |text: &str, size: u32| -> Result<usize> {
            let (width, _) = (FONT, size)
                .into_font()
                .box_size(text)
                .map_err(drawing_error)?;
            Ok(width as usize)
        };
        let (rows, slice_columns) = slice;
        let pixel = (TILE_PIXELS / rows.max(slice_columns).max(1)).max(1);
        let tile = (slice_columns * pixel, rows * pixel);
        let left = text_width("simulated", LABEL_PIXELS)? + 2 * GAP;
        let top = TITLE_PIXELS as usize + LABEL_PIXELS as usize + 3 * GAP;
        let bar_top = top + 2 * (tile.1 + GAP) + LABEL_PIXELS as usize + 2 * GAP;
        let width = (left + columns * (tile.0 + GAP))
            .max(text_width(title, TITLE_PIXELS)? + 2 * GAP)
            .max(left + BAR_PIXELS.0 + 3 * GAP + text_width(BAR_CAPTION, LABEL_PIXELS)?);
        let height = bar_top + BAR_PIXELS.1 + GAP + LABEL_PIXELS as usize + GAP;
        Ok(Layout {
            pixel,
            tile,
            left,
            top,
            bar_top,
            size: (width, height),
        })
    }
}

/// The montage as a PNG: one column per time (`measured[n]` above `simulated[n]`), a title, a scale
/// bar in nm under the first column (`voxel_nm` per slice pixel), and a grey bar with the shared
/// scale's ends.
pub fn montage(
    title: &str,
    times_s: &[f64],
    measured: &[Array2<f32>],
    simulated: &[Array2<f32>],
    voxel_nm: f64,
) -> Result<Vec<u8>> {
    register_font();
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
    let layout = Layout::new(
        title,
        times_s.len(),
        measured.first().map_or((1, 1), |s| s.dim()),
    )?;
    let (width, height) = layout.size;
    let mut rgb = vec![0u8; width * height * 3];
    {
        let root =
            BitMapBackend::with_buffer(&mut rgb, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let at = |x: usize, y: usize| (x as i32, y as i32);
        let text = |text: &str, (x, y): (usize, usize), size: u32, h: HPos| {
            let style = (FONT, size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(h, VPos::Center));
            root.draw(&Text::new(text.to_owned(), at(x, y), style))
                .map_err(drawing_error)
        };
        let fill = |(x, y): (usize, usize), (w, h): (usize, usize), colour: RGBColor| {
            root.draw(&Rectangle::new(
                [at(x, y), at(x + w, y + h)],
                colour.filled(),
            ))
            .map_err(drawing_error)
        };
        let draw_slice = |slice: &Array2<f32>, (x, y): (usize, usize)| -> Result<()> {
            let p = layout.pixel;
            for ((row, column), value) in slice.indexed_iter() {
                fill((x + column * p, y + row * p), (p, p), grey(*value, scale))?;
            }
            Ok(())
        };
        let (tile_w, tile_h) = layout.tile;
        let label_y = layout.top - GAP - LABEL_PIXELS as usize / 2;
        text(
            title,
            (GAP, GAP + TITLE_PIXELS as usize / 2),
            TITLE_PIXELS,
            HPos::Left,
        )?;
        for (n, t_s) in times_s.iter().enumerate() {
            let x = layout.left + n * (tile_w + GAP);
            text(
                &format!("{t_s} s"),
                (x + tile_w / 2, label_y),
                LABEL_PIXELS,
                HPos::Center,
            )?;
            if let Some(slice) = measured.get(n) {
                draw_slice(slice, (x, layout.top))?;
            }
            if let Some(slice) = simulated.get(n) {
                draw_slice(slice, (x, layout.top + tile_h + GAP))?;
            }
        }
        let row_label = |name: &str, row: usize| {
            let y = layout.top + row * (tile_h + GAP) + tile_h / 2;
            text(name, (GAP, y), LABEL_PIXELS, HPos::Left)
        };
        row_label("measured", 0)?;
        row_label("simulated", 1)?;
        // The scale bar: a whole number of slice pixels is not needed, only the true length.
        let tile_nm = tile_w as f64 / layout.pixel as f64 * voxel_nm;
        let bar_nm = round_length_nm(SCALE_BAR_SHARE * tile_nm);
        let bar_px = (bar_nm / voxel_nm * layout.pixel as f64).round() as usize;
        let scale_y = layout.top + 2 * (tile_h + GAP);
        fill((layout.left, scale_y), (bar_px, 4), RGBColor(0, 0, 0))?;
        text(
            &format!("{bar_nm} nm"),
            (layout.left + bar_px + GAP / 2, scale_y + 2),
            LABEL_PIXELS,
            HPos::Left,
        )?;
        for column in 0..BAR_PIXELS.0 {
            let value = scale.0 + (scale.1 - scale.0) * column as f64 / (BAR_PIXELS.0 - 1) as f64;
            let colour = grey(value as f32, scale);
            fill(
                (layout.left + column, layout.bar_top),
                (1, BAR_PIXELS.1),
                colour,
            )?;
        }
        let ends_y = layout.bar_top + BAR_PIXELS.1 + GAP / 2 + LABEL_PIXELS as usize / 2;
        text(
            &format!("{:.2}", scale.0),
            (layout.left, ends_y),
            LABEL_PIXELS,
            HPos::Left,
        )?;
        text(
            &format!("{:.2}", scale.1),
            (layout.left + BAR_PIXELS.0, ends_y),
            LABEL_PIXELS,
            HPos::Right,
        )?;
        text(
            BAR_CAPTION,
            (
                layout.left + BAR_PIXELS.0 + 2 * GAP,
                layout.bar_top + BAR_PIXELS.1 / 2,
            ),
            LABEL_PIXELS,
            HPos::Left,
        )?;
        root.present().map_err(drawing_error)?;
    }
    encode_png(&rgb, (width as u32, height as u32))
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
        let png = montage("t", &[0.0], &[slice], &[bright], 0.5).unwrap();
        let layout = Layout::new("t", 1, (4, 4)).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut rgb).unwrap();
        let width = layout.size.0;
        let red_at = |x: usize, y: usize| rgb[3 * (y * width + x)];
        let p = layout.pixel;
        let measured_inside = red_at(layout.left + p + 1, layout.top + p + 1);
        let simulated_inside = red_at(layout.left + p + 1, layout.top + 4 * p + GAP + p + 1);
        assert!(
            measured_inside < simulated_inside,
            "{measured_inside} vs {simulated_inside}"
        );
        assert_eq!(simulated_inside, 255);
    }

    #[test]
    fn scale_bars_are_round_lengths() {
        assert_eq!(round_length_nm(37.0), 20.0);
        assert_eq!(round_length_nm(9.9), 5.0);
        assert_eq!(round_length_nm(1.0), 1.0);
    }
}
