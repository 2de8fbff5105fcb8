//! Dose calibration (docs/METHOD.md §4.5): find the dose λ at which the simulated fully alloyed
//! particle shows the noise (CV on the central slice) measured on the experiment's fully alloyed
//! reconstruction. SIRT is nearly linear, so CV² ≈ CV_clean² + κ/λ: one clean run and one trial
//! give κ and so λ; a third run checks it, and a fourth refines κ when the check misses by more
//! than [`ACCEPT_RELATIVE`].

use anyhow::{Result, ensure};
use serde::{Deserialize, Serialize};

use super::{ImagingChain, Noise};
use crate::diffusion::Trajectory;

/// The trial dose, counts per unit projected intensity (a voxel length of Ag gives this many
/// counts): high enough that the trial stays in the nearly linear regime.
const TRIAL_DOSE: f64 = 100.0;
/// A calibrated CV within this relative distance of the target is accepted without refinement.
const ACCEPT_RELATIVE: f64 = 0.01;

/// The outcome of a calibration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DoseCalibration {
    pub target_cv: f64,
    /// CV of the noise-free simulated alloyed particle.
    pub clean_cv: f64,
    /// None when the target is at or below the clean CV: the experiment shows no more noise than
    /// the noise-free simulation, so the fit uses none.
    pub dose: Option<f64>,
    /// CV at the calibrated dose (the clean CV without noise).
    pub achieved_cv: f64,
    /// (dose, CV) of every noisy run, in order.
    pub runs: Vec<(f64, f64)>,
}

/// Calibrates the smooth-noise dose of `chain` so that `alloyed` (the simulated fully alloyed
/// state) shows `target_cv` on the noise slice.
pub fn calibrate_dose(
    chain: &mut ImagingChain,
    alloyed: &Trajectory,
    target_cv: f64,
) -> Result<DoseCalibration> {
    ensure!(
        target_cv.is_finite() && target_cv > 0.0,
        "the measured noise CV must be a positive number, got {target_cv}"
    );
    let clean_cv = chain.image(alloyed, Noise::None, false)?.slice_spread();
    let mut calibration = DoseCalibration {
        target_cv,
        clean_cv,
        dose: None,
        achieved_cv: clean_cv,
        runs: Vec::new(),
    };
    if target_cv <= clean_cv {
        return Ok(calibration);
    }
    let excess = target_cv * target_cv - clean_cv * clean_cv;
    let mut dose = TRIAL_DOSE;
    for _ in 0..3 {
        let cv = chain
            .image(alloyed, Noise::Smooth { dose }, false)?
            .slice_spread();
        calibration.runs.push((dose, cv));
        calibration.dose = Some(dose);
        calibration.achieved_cv = cv;
        if calibration.runs.len() > 1 && (cv / target_cv - 1.0).abs() <= ACCEPT_RELATIVE {
            break;
        }
        let kappa = (cv * cv - clean_cv * clean_cv).max(f64::MIN_POSITIVE) * dose;
        dose = kappa / excess;
    }
    Ok(calibration)
}
