//! Summary statistics: whole-volume summaries for people (`alloyfit info`, phantom summaries),
//! accumulated in f64 per k-slice so that large volumes keep full precision, and percentiles.

use ndarray::{ArrayView3, Axis};
use rayon::prelude::*;
use serde::Serialize;

/// Minimum, maximum and mean of the finite samples, and how many were not finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub non_finite: usize,
}

/// Summarises every sample of `data`.
pub fn summarize(data: ArrayView3<f32>) -> Summary {
    let per_slice: Vec<(f64, f64, f64, usize, usize)> = data
        .axis_iter(Axis(0))
        .into_par_iter()
        .map(|slice| {
            let (mut min, mut max, mut sum, mut finite, mut non_finite) =
                (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize, 0usize);
            for &v in slice.iter() {
                if v.is_finite() {
                    let v = f64::from(v);
                    min = min.min(v);
                    max = max.max(v);
                    sum += v;
                    finite += 1;
                } else {
                    non_finite += 1;
                }
            }
            (min, max, sum, finite, non_finite)
        })
        .collect();
    let (mut min, mut max, mut sum, mut finite, mut non_finite) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize, 0usize);
    for (slice_min, slice_max, slice_sum, slice_finite, slice_non_finite) in per_slice {
        min = min.min(slice_min);
        max = max.max(slice_max);
        sum += slice_sum;
        finite += slice_finite;
        non_finite += slice_non_finite;
    }
    Summary {
        min,
        max,
        mean: sum / finite as f64,
        non_finite,
    }
}

/// The `p`-th percentile (0–100) of the non-NaN `values`, interpolated linearly between order
/// statistics (so the 50th is the usual median); None when there are none.
pub fn percentile(values: &[f32], p: f64) -> Option<f64> {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_unstable_by(f32::total_cmp);
    let position = (p.clamp(0.0, 100.0) / 100.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    Some(f64::from(sorted[below]) * (1.0 - weight) + f64::from(sorted[above]) * weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn summary_skips_and_counts_non_finite_samples() {
        let mut data = Array3::from_shape_fn([2, 3, 4], |(k, i, j)| (k * 12 + i * 4 + j) as f32);
        data[[1, 2, 3]] = f32::NAN;
        let summary = summarize(data.view());
        assert_eq!(
            (summary.min, summary.max, summary.non_finite),
            (0.0, 22.0, 1)
        );
        assert_eq!(summary.mean, (0..23).sum::<i32>() as f64 / 23.0);
    }

    #[test]
    fn percentiles_interpolate_between_order_statistics() {
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[4.0, 1.0, 3.0, 2.0], 50.0), Some(2.5));
        assert_eq!(percentile(&[1.0, f32::NAN, 2.0], 100.0), Some(2.0));
        assert_eq!(percentile(&[0.0, 10.0], 25.0), Some(2.5));
        assert_eq!(percentile(&[f32::NAN], 50.0), None);
    }
}
