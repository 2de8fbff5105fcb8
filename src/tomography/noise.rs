//! Poisson noise on projection counts (docs/METHOD.md §4.3, step 4): y ~ Poisson(λ·p), p̃ = y/λ,
//! with λ the dose in counts per unit projected intensity. Each projection image draws from its own
//! ChaCha8 stream of the run's seed, so the noise depends only on (seed, angle index, pixel): the
//! same on every machine and with any number of threads.

use anyhow::{Result, bail, ensure};
use ndarray::Axis;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use rayon::prelude::*;

use super::TiltSeries;

/// Replaces each projection value p by y/λ with y ~ Poisson(λ·p).
pub fn add_poisson_noise(series: &mut TiltSeries, dose: f64, seed: u64) -> Result<()> {
    ensure!(
        dose.is_finite() && dose > 0.0,
        "dose must be a positive number of counts per unit projected intensity, got {dose}"
    );
    if let Some(bad) = series.iter().find(|&&p| !(p.is_finite() && p >= 0.0)) {
        bail!("projections must be finite and not negative for Poisson noise, found {bad}");
    }
    series
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .try_for_each(|(angle, mut image)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(angle as u64);
            for p in image.iter_mut() {
                let mean = dose * f64::from(*p);
                let counts = if mean > 0.0 {
                    Poisson::new(mean)
                        .map_err(|e| anyhow::anyhow!("Poisson({mean}): {e}"))?
                        .sample(&mut rng)
                } else {
                    0.0
                };
                *p = (counts / dose) as f32;
            }
            Ok(())
        })
}

/// A standard-normal field of `shape` `[angle, k, m]`, one ChaCha8 stream per projection image as
/// in [`add_poisson_noise`]: the fixed z of the smooth noise mode.
pub fn standard_normal_field(shape: [usize; 3], seed: u64) -> Vec<f32> {
    let image_len = shape[1] * shape[2];
    let mut field = vec![0.0f32; shape[0] * image_len];
    field
        .par_chunks_mut(image_len.max(1))
        .enumerate()
        .for_each(|(angle, image)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(angle as u64);
            for z in image.iter_mut() {
                *z = StandardNormal.sample(&mut rng);
            }
        });
    field
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn noise_is_seeded_unbiased_and_has_poisson_variance() {
        let clean = Array3::from_elem([4, 50, 50], 2.0f32);
        let noisy = |seed| {
            let mut series = clean.clone();
            add_poisson_noise(&mut series, 100.0, seed).unwrap();
            series
        };
        assert_eq!(noisy(7), noisy(7), "same seed, same noise");
        assert_ne!(noisy(7), noisy(8), "another seed, other noise");
        let sample = noisy(7);
        let n = sample.len() as f64;
        let mean = sample.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let variance = sample
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        // p̃ = y/λ: mean p = 2, variance p/λ = 0.02. With 1e4 samples the standard errors are
        // 1.4e-3 for the mean and 2.8e-4 for the variance; allow four of them.
        assert!((mean - 2.0).abs() < 6e-3, "mean {mean}");
        assert!((variance - 0.02).abs() < 1.2e-3, "variance {variance}");
    }

    #[test]
    fn bad_doses_and_negative_projections_are_refused() {
        let mut series = Array3::from_elem([1, 2, 2], 1.0f32);
        assert!(add_poisson_noise(&mut series, 0.0, 1).is_err());
        series[[0, 1, 1]] = -1.0;
        let error = add_poisson_noise(&mut series, 10.0, 1)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not negative"), "{error}");
    }
}
