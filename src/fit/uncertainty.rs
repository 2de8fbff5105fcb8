//! SD(D) from the Fisher information (docs/METHOD.md §4.6), with the correlation that a measured
//! curve's normalisation puts between its points.
//!
//! A measured point is α_k = (S(0) − S_k)/(S(0) − S_ref): every point shares S(0), and the
//! uncorrected curve also shares its reference S_ref = the last spread. An error in S(0) moves all
//! points together, along the same direction as a change of D early in the curve, so it shifts D
//! without showing in the residuals. If every spread carries an independent error of one size, the
//! points' errors have covariance σ²·C with C = G·Gᵀ, where row k of G holds
//! (S(0) − S_ref)·∂α_k/∂S_m over the spreads S_m. The simulated curve is normalised by its own
//! simulated S(0) in the same way, and its errors add to the same σ².
//!
//! D̂ is the least-squares estimate, so Var(D̂) = σ²·JᵀCJ/(JᵀJ)², and σ² comes from the residuals:
//! E[Σ r_k²] = σ²·tr((I − H)·C) with H = J·Jᵀ/(JᵀJ). With C = I (independent points) both reduce to
//! docs/METHOD.md's SD = σ/√(Σ J_k²), σ² = Σ r_k²/(K − 1).

use anyhow::{Result, ensure};

use crate::experiment::Correction;

/// The shape C of the covariance of a curve's fitted points (σ² times it is the covariance).
#[derive(Debug, Clone, PartialEq)]
pub struct PointCovariance {
    matrix: Vec<Vec<f64>>,
}

impl PointCovariance {
    /// Points with independent errors of one size (a curve read from a file, whose making is not
    /// known): C = I.
    pub fn independent(points: usize) -> Self {
        let matrix = (0..points)
            .map(|row| (0..points).map(|col| f64::from(row == col)).collect())
            .collect();
        Self { matrix }
    }

    /// Points made from spreads: `alpha` is the measured curve at every time (α = 0 at t = 0,
    /// index 0), `fitted` the indices of the points the fit uses (t > 0).
    pub fn of_spread_ratios(alpha: &[f64], fitted: &[usize], correction: Correction) -> Self {
        let last = alpha.len() - 1;
        let rows: Vec<Vec<f64>> = fitted
            .iter()
            .map(|&k| {
                let mut row = vec![0.0; alpha.len()];
                row[0] += 1.0 - alpha[k];
                row[k] -= 1.0;
                if correction == Correction::Uncorrected {
                    // S_ref is the last spread; for the last point itself the terms cancel (α = 1).
                    row[last] += alpha[k];
                }
                row
            })
            .collect();
        let matrix = rows
            .iter()
            .map(|a| rows.iter().map(|b| dot(a, b)).collect())
            .collect();
        Self { matrix }
    }

    fn apply(&self, v: &[f64]) -> Vec<f64> {
        self.matrix.iter().map(|row| dot(row, v)).collect()
    }

    fn trace(&self) -> f64 {
        (0..self.matrix.len()).map(|k| self.matrix[k][k]).sum()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// SD of the least-squares D̂ given its residuals r_k, sensitivities J_k = ∂α_sim(t_k)/∂D and the
/// points' covariance shape (module docs).
pub fn standard_deviation(
    residuals: &[f64],
    sensitivities: &[f64],
    covariance: &PointCovariance,
) -> Result<f64> {
    let points = residuals.len();
    ensure!(
        sensitivities.len() == points && covariance.matrix.len() == points,
        "{points} residuals, {} sensitivities and a {}-point covariance",
        sensitivities.len(),
        covariance.matrix.len()
    );
    let information = dot(sensitivities, sensitivities);
    if information == 0.0 {
        // The simulated curve does not move with D here (saturated before the first point): the
        // data say nothing about D, and the fit has warned that its objective is flat.
        return Ok(f64::INFINITY);
    }
    let spread_along_j = dot(sensitivities, &covariance.apply(sensitivities));
    let residual_dof = covariance.trace() - spread_along_j / information;
    ensure!(
        residual_dof > 0.0,
        "{points} points leave no residual to estimate the noise from"
    );
    let sigma2 = dot(residuals, residuals) / residual_dof;
    Ok((sigma2 * spread_along_j).sqrt() / information)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    const DRAWS: usize = 4000;

    /// Mean and SD of `values`.
    fn mean_and_sd(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    /// Least squares for α = D·x: D̂ and the residuals.
    fn fit_line(x: &[f64], alpha: &[f64]) -> (f64, Vec<f64>) {
        let d_hat = dot(x, alpha) / dot(x, x);
        let residuals = x.iter().zip(alpha).map(|(a, y)| y - d_hat * a).collect();
        (d_hat, residuals)
    }

    /// y_k = D·x_k + ε, ε ~ N(0, σ²): least squares gives Var(D̂) = σ²/Σ x_k², and J_k = x_k, so
    /// the SD with independent points must match the spread of D̂ over many noise draws.
    #[test]
    fn sd_of_independent_points_matches_theory_for_a_linear_model() {
        let (d_true, sigma) = (2.0, 0.05);
        let x: Vec<f64> = (1..=9).map(|k| f64::from(k) / 9.0).collect();
        let independent = PointCovariance::independent(x.len());
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let noise = Normal::new(0.0, sigma).unwrap();
        let (mut estimates, mut sds) = (Vec::new(), Vec::new());
        for _ in 0..DRAWS {
            let y: Vec<f64> = x
                .iter()
                .map(|&v| d_true * v + noise.sample(&mut rng))
                .collect();
            let (d_hat, residuals) = fit_line(&x, &y);
            estimates.push(d_hat);
            sds.push(standard_deviation(&residuals, &x, &independent).unwrap());
        }
        let theory = sigma / dot(&x, &x).sqrt();
        let (_, empirical) = mean_and_sd(&estimates);
        let (mean_sd, _) = mean_and_sd(&sds);
        // 4000 draws know an SD to 1.1% (1/√(2·4000)), so 5% is 4 of those.
        assert!(
            (empirical / theory - 1.0).abs() < 0.05,
            "{empirical} vs {theory}"
        );
        // E[σ̂] falls short of σ by about 1/(4·(K − 1)) = 3% for K = 9 points.
        assert!(
            (mean_sd / theory - 1.0).abs() < 0.1,
            "{mean_sd} vs {theory}"
        );
    }

    /// Spreads with independent errors, made into α with the measured S(0) as the paper does: the
    /// points then share S(0)'s error. The SD with their covariance matches the spread of D̂ over
    /// many draws (0.96 of it); the SD that treats the points as independent falls short (0.76 of
    /// it: the shared error also inflates the residuals a little, so not quite the 1/√(1 +
    /// (Σ J_k w_k)²/Σ J_k²) = 0.71, w_k = 1 − α_k, that it leaves out for this curve).
    #[test]
    fn sd_covers_the_error_the_points_share_through_s0() {
        let (d_true, s0, s100, spread_sigma) = (1.0, 0.5, 0.2, 0.003);
        let x: Vec<f64> = (1..=9).map(|k| f64::from(k) / 10.0).collect();
        let times = x.len() + 1;
        let fitted: Vec<usize> = (1..times).collect();
        let independent = PointCovariance::independent(x.len());
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let noise = Normal::new(0.0, spread_sigma).unwrap();
        let (mut estimates, mut shared_sds, mut independent_sds) =
            (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..DRAWS {
            let spreads: Vec<f64> = std::iter::once(0.0)
                .chain(x.iter().map(|&v| d_true * v))
                .map(|alpha| s0 - (s0 - s100) * alpha + noise.sample(&mut rng))
                .collect();
            let alpha: Vec<f64> = spreads
                .iter()
                .map(|s| (spreads[0] - s) / (spreads[0] - s100))
                .collect();
            let (d_hat, residuals) = fit_line(&x, &alpha[1..]);
            let covariance =
                PointCovariance::of_spread_ratios(&alpha, &fitted, Correction::Corrected);
            estimates.push(d_hat);
            shared_sds.push(standard_deviation(&residuals, &x, &covariance).unwrap());
            independent_sds.push(standard_deviation(&residuals, &x, &independent).unwrap());
        }
        let (_, empirical) = mean_and_sd(&estimates);
        let (shared, _) = mean_and_sd(&shared_sds);
        let (independent, _) = mean_and_sd(&independent_sds);
        assert!(
            (shared / empirical - 1.0).abs() < 0.1,
            "SD {shared} vs scatter {empirical}"
        );
        assert!(
            independent / empirical < 0.85,
            "the independent-points SD {independent} should miss the shared error (scatter {empirical})"
        );
    }

    /// Uncorrected, the last point is 1 by construction: it carries no error, and every other
    /// point shares the last spread as well as S(0).
    #[test]
    fn uncorrected_curves_share_the_last_spread() {
        let alpha = [0.0, 0.5, 1.0];
        let c = PointCovariance::of_spread_ratios(&alpha, &[1, 2], Correction::Uncorrected);
        // Point 1: G = (1 − 0.5, −1, 0.5); point 2: G = (0, 0, −1 + 1).
        assert_eq!(c.matrix, vec![vec![1.5, 0.0], vec![0.0, 0.0]]);
        let corrected = PointCovariance::of_spread_ratios(&alpha, &[1, 2], Correction::Corrected);
        // Point 1: G = (0.5, −1, 0); point 2: G = (0, 0, −1).
        assert_eq!(corrected.matrix, vec![vec![1.25, 0.0], vec![0.0, 1.0]]);
    }

    #[test]
    fn a_curve_that_does_not_move_with_d_has_an_infinite_sd() {
        let sd = standard_deviation(&[0.1, 0.2], &[0.0, 0.0], &PointCovariance::independent(2));
        assert_eq!(sd.unwrap(), f64::INFINITY);
    }
}
