//! The matched start state (docs/METHOD.md §4.4): the two-phase composition whose simulated t = 0
//! reconstruction looks like the measured one.
//!
//! The brightest ⌊c̄·N⌉ voxels of a reconstruction are not the particle's core: the blur, SIRT and
//! the missing wedge dim a core's thin parts (NR4's bipyramid tips) and round its edges, so that
//! core alloys too fast in the simulation and D comes out low (NR4 at 0.5 nm in the phantom's own
//! mask: −6.8% from the brightest voxels, −1.1% from the true core). Here the two-phase state is
//! imaged without noise through the experiment's own chain, the difference between the measured
//! and the simulated composition is smoothed and added to a running field, and the state is cut
//! from that field again. This module owns those steps; the calibration of a reconstruction into
//! composition is [`quantify::calibrated_composition`].

use anyhow::{Context, Result};
use ndarray::Array3;
use serde::{Deserialize, Serialize};

use super::quantify::{self, calibrated_composition, two_phase};
use super::{ImagingChain, Noise};
use crate::backend::Backend;
use crate::diffusion::Trajectory;
use crate::progress::Progress;
use crate::volume::{Mask, Volume, check_same_grid};

/// Update steps. On NR4 at 0.5 nm (synth's data at dose 10, in the phantom's own mask) the
/// brightest voxels missed the true core by 5,140 voxels; the first step took that to 3,550 and
/// the second to 3,480, after which it grew again (3,690, 3,840) while the residual barely fell:
/// further steps fit the noise.
pub const MATCH_STEPS: usize = 2;

/// The Gaussian sigma, in voxels, that smooths each step's residual. Without it the residual's
/// noise, which the chain cannot make, piles up in the field: on the same NR4 the voxels off the
/// true core grew with every step (6,120, 10,030, 14,770, 18,800).
pub const RESIDUAL_SMOOTHING_VOXELS: f64 = 1.0;

/// One update step: the residual it corrected and how many voxels changed phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchStep {
    /// RMS over the mask of the measured minus the simulated composition (unclipped) of the state
    /// the step started from.
    pub residual_rms: f64,
    /// Voxels whose phase the step changed.
    pub changed_voxels: usize,
}

/// A matched start state.
pub struct MatchedStart {
    /// The two-phase composition (Au 1, Ag 0, mean c̄ in the mask).
    pub composition: Volume,
    pub correction: MatchCorrection,
}

/// What the steps added to the measured composition, and the steps: another mask cut from the
/// same reconstruction starts from it instead of taking the steps again.
#[derive(Clone)]
pub struct MatchCorrection {
    pub field: Volume,
    pub steps: Vec<MatchStep>,
}

/// What the matching starts from: the t = 0 reconstruction and how it is calibrated.
pub struct MatchInput<'v> {
    pub reconstruction: &'v Volume,
    /// The reconstruction's background (the segmentation's).
    pub background: f64,
    pub mean_au_fraction: f64,
    pub contrast_ratio: f64,
    /// The diffusion's step ratio, for the trajectory that holds each state while it is imaged.
    pub beta: f64,
}

/// The two-phase state in `mask` matched to `input.reconstruction` through `chain`, which must
/// be prepared for `mask`'s grid. With `correction` (from another mask of the same
/// reconstruction) the state is cut from the measured composition plus its field, and no chain
/// runs.
pub fn matched_start(
    backend: &Backend,
    chain: &mut ImagingChain,
    input: &MatchInput,
    mask: &Mask,
    correction: Option<&MatchCorrection>,
    progress: &mut dyn Progress,
) -> Result<MatchedStart> {
    check_same_grid(
        "t = 0 reconstruction and mask",
        input.reconstruction.grid(),
        mask.grid(),
    )?;
    let calibrate = |volume: &Volume, background: f64| {
        calibrated_composition(
            volume,
            mask,
            background,
            input.mean_au_fraction,
            input.contrast_ratio,
        )
    };
    let measured = calibrate(input.reconstruction, input.background)?;
    let voxel_nm = input.reconstruction.voxel_nm();
    // The two-phase state of a composition field: its brightest c̄·N voxels in the mask.
    let cut = |field: Array3<f32>| {
        two_phase(&Volume::new(field, voxel_nm)?, mask, input.mean_au_fraction)
    };
    if let Some(correction) = correction {
        check_same_grid(
            "start correction and mask",
            correction.field.grid(),
            mask.grid(),
        )?;
        return Ok(MatchedStart {
            composition: cut(&measured + correction.field.data())?,
            correction: correction.clone(),
        });
    }
    let mut composition = cut(measured.mapv(|c| c.clamp(0.0, 1.0)))?;
    let mut field = measured.clone();
    let mut steps = Vec::with_capacity(MATCH_STEPS);
    for step in 1..=MATCH_STEPS {
        progress.line(&format!(
            "matching the start state to the t = 0 reconstruction: step {step} of {MATCH_STEPS}"
        ));
        let state = Trajectory::new(backend, &composition, mask, input.beta)?;
        let reconstruction = chain
            .image(&state, Noise::None, true)?
            .reconstruction
            .context("the chain kept no reconstruction")?;
        let mut residual = measured.clone();
        // A simulated reconstruction has no background: the vacuum around the particle is 0.
        residual -= &calibrate(&reconstruction, 0.0)?;
        let residual_rms = rms_in(&residual, mask);
        let smoothed =
            quantify::smoothed(&Volume::new(residual, voxel_nm)?, RESIDUAL_SMOOTHING_VOXELS)?;
        field += smoothed.data();
        let next = cut(field.clone())?;
        let changed_voxels = next
            .as_slice()
            .iter()
            .zip(composition.as_slice())
            .filter(|(a, b)| a != b)
            .count();
        steps.push(MatchStep {
            residual_rms,
            changed_voxels,
        });
        composition = next;
    }
    field -= &measured;
    Ok(MatchedStart {
        composition,
        correction: MatchCorrection {
            field: Volume::new(field, voxel_nm)?,
            steps,
        },
    })
}

fn rms_in(values: &Array3<f32>, mask: &Mask) -> f64 {
    let (sum, count) = values
        .iter()
        .zip(mask.data())
        .filter(|(_, inside)| **inside)
        .fold((0.0, 0usize), |(sum, count), (&v, _)| {
            (sum + f64::from(v).powi(2), count + 1)
        });
    (sum / count as f64).sqrt()
}
