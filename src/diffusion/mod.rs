//! Fick's second law on a fixed particle mask (DESIGN.md §4.1–4.2): the time-step plan, mask
//! preparation, and [`Trajectory`], which walks through increasing tau = D·t on either backend and
//! hands out snapshots that stay on the device.
//!
//! Work happens only inside the mask's bounding box. Outside voxels carry the marker
//! [`OUTSIDE`](crate::backend::cpu::diffusion::OUTSIDE) in the field itself (see
//! `shaders/diffusion.wgsl` for why). The main state advances by full steps of Δτ = β·h² only; a
//! requested tau is reached by one partial step into a separate snapshot field. So a snapshot is
//! the same, bit for bit, whether a trajectory passed through earlier taus or not.

mod masks;

use std::ops::Range;

use anyhow::{Context, Result, bail, ensure};
use ndarray::{Array3, s};

pub use masks::{PreparedMask, prepare_mask};

use crate::backend::cpu::diffusion::{OUTSIDE, diffusion_step, diffusion_steps};
use crate::backend::cpu::masked_moments::masked_moments;
use crate::backend::gpu::{GpuContext, GpuMask};
use crate::backend::{Backend, Field, Moments};
use crate::volume::{Mask, Volume, check_same_grid};

/// The largest stable β = Δτ/h² of the explicit 7-point scheme; it also keeps the maximum principle.
pub const BETA_MAX: f64 = 1.0 / 6.0;
/// DESIGN.md §4.1's default β.
pub const BETA_DEFAULT: f64 = 0.15;
/// Steps between progress reports (and GPU submits issued by one call).
const STEPS_PER_REPORT: u64 = 256;
/// nm² per m²: tau = D·t comes in m² and is used in nm².
pub const NM2_PER_M2: f64 = 1e18;

/// tau in nm² for a diffusion coefficient in m²/s and a time in s.
pub fn tau_nm2(d_m2s: f64, t_s: f64) -> f64 {
    d_m2s * t_s * NM2_PER_M2
}

/// Checks β against the stability bound, explaining a refusal.
pub fn check_beta(beta: f64) -> Result<()> {
    ensure!(
        beta.is_finite() && beta > 0.0 && beta <= BETA_MAX,
        "beta = Δτ/h² = {beta} is outside (0, 1/6]: above 1/6 the explicit 7-point scheme is unstable \
         and breaks the maximum principle (compositions leave [0, 1]); use the default 0.15 or smaller"
    );
    Ok(())
}

/// The steps that reach `tau_nm2`: full steps of β·h², then one partial step of the remaining β (if
/// any), ceil(tau/(β h²)) steps in all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPlan {
    pub full_steps: u64,
    pub partial_beta: Option<f64>,
}

impl StepPlan {
    pub fn new(tau_nm2: f64, beta: f64, voxel_nm: f64) -> StepPlan {
        let step_tau = beta * voxel_nm * voxel_nm;
        let ratio = tau_nm2 / step_tau;
        // A tau that is a whole number of steps up to rounding needs no sliver of a step.
        let nearest = ratio.round();
        let full_steps = if (ratio - nearest).abs() <= 1e-9 * ratio.max(1.0) {
            nearest
        } else {
            ratio.floor()
        };
        let remainder = tau_nm2 - full_steps * step_tau;
        StepPlan {
            full_steps: full_steps as u64,
            partial_beta: (remainder > 1e-12 * step_tau).then(|| remainder / (voxel_nm * voxel_nm)),
        }
    }

    pub fn total_steps(&self) -> u64 {
        self.full_steps + u64::from(self.partial_beta.is_some())
    }
}

/// The cropped grid a trajectory works on, and where it sits in the full grid.
struct Crop {
    ranges: [Range<usize>; 3],
    shape: [usize; 3],
}

/// Where a cropped field sits in its full grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropPlacement {
    pub origin: [usize; 3],
    pub shape: [usize; 3],
    pub full_shape: [usize; 3],
    pub voxel_nm: f64,
}

/// A diffusion run from C0 through increasing taus.
pub struct Trajectory<'a> {
    backend: &'a Backend,
    crop: Crop,
    full_shape: [usize; 3],
    voxel_nm: f64,
    beta: f64,
    /// The main state after `full_steps_done` full steps, and its ping-pong partner.
    state: Field,
    spare: Field,
    full_steps_done: u64,
    /// The last snapshot handed out, and its tau.
    snapshot: Field,
    snapshot_tau_nm2: f64,
    mask_bits: MaskBits,
}

enum MaskBits {
    Cpu(Vec<u32>),
    Gpu(GpuMask),
}

fn gpu_of(backend: &Backend) -> Result<&GpuContext> {
    match backend {
        Backend::Gpu(gpu) => Ok(gpu),
        Backend::Cpu => bail!("GPU field without a GPU backend"),
    }
}

fn bounding_box(mask: &Mask) -> Result<[Range<usize>; 3]> {
    let mut low = [usize::MAX; 3];
    let mut high = [0usize; 3];
    for ((k, i, j), &inside) in mask.data().indexed_iter() {
        if inside {
            for (axis, n) in [k, i, j].into_iter().enumerate() {
                low[axis] = low[axis].min(n);
                high[axis] = high[axis].max(n + 1);
            }
        }
    }
    ensure!(
        low[0] != usize::MAX,
        "the mask is empty: nothing can diffuse"
    );
    Ok([0, 1, 2].map(|a| low[a]..high[a]))
}

impl<'a> Trajectory<'a> {
    /// Starts at tau = 0 from `composition` inside `mask` (already prepared: one component).
    pub fn new(
        backend: &'a Backend,
        composition: &Volume,
        mask: &Mask,
        beta: f64,
    ) -> Result<Trajectory<'a>> {
        check_beta(beta)?;
        check_same_grid("composition and mask", composition.grid(), mask.grid())?;
        if let Some(bad) = composition
            .data()
            .iter()
            .zip(mask.data())
            .find(|&(&c, &m)| m && !(0.0..=1.0).contains(&c))
        {
            bail!(
                "compositions inside the mask must be Au fractions in [0, 1], found {}",
                bad.0
            );
        }
        let ranges = bounding_box(mask)?;
        let region = s![ranges[0].clone(), ranges[1].clone(), ranges[2].clone()];
        let cropped_mask = mask.data().slice(region);
        let field: Vec<f32> = composition
            .data()
            .slice(region)
            .iter()
            .zip(cropped_mask.iter())
            .map(|(&c, &m)| if m { c } else { OUTSIDE })
            .collect();
        let shape = [0, 1, 2].map(|a| ranges[a].len());
        let bits = Mask::new(cropped_mask.to_owned(), mask.voxel_nm())?.to_bits();
        let (state, spare, snapshot, mask_bits) = match backend {
            Backend::Cpu => (
                Field::Cpu(field.clone()),
                Field::Cpu(field.clone()),
                Field::Cpu(field),
                MaskBits::Cpu(bits),
            ),
            Backend::Gpu(gpu) => (
                Field::Gpu(gpu.upload_samples(&field)?),
                Field::Gpu(gpu.upload_samples(&field)?),
                Field::Gpu(gpu.upload_samples(&field)?),
                MaskBits::Gpu(gpu.upload_bits(&bits, field.len())?),
            ),
        };
        Ok(Trajectory {
            backend,
            crop: Crop { ranges, shape },
            full_shape: composition.shape(),
            voxel_nm: composition.voxel_nm(),
            beta,
            state,
            spare,
            full_steps_done: 0,
            snapshot,
            snapshot_tau_nm2: 0.0,
            mask_bits,
        })
    }

    /// Advances to `tau_nm2` (not below the last snapshot's) and makes the snapshot there.
    pub fn advance_to(&mut self, tau_nm2: f64) -> Result<()> {
        self.advance_to_reporting(tau_nm2, &mut |_| {})
    }

    /// Full steps (beyond those already done) needed to reach `tau_nm2`, for progress bars.
    pub fn steps_to(&self, tau_nm2: f64) -> u64 {
        StepPlan::new(tau_nm2, self.beta, self.voxel_nm)
            .full_steps
            .saturating_sub(self.full_steps_done)
    }

    /// [`Self::advance_to`], calling `report(steps)` as batches of steps complete.
    pub fn advance_to_reporting(
        &mut self,
        tau_nm2: f64,
        report: &mut dyn FnMut(u64),
    ) -> Result<()> {
        ensure!(
            tau_nm2.is_finite() && tau_nm2 >= self.snapshot_tau_nm2,
            "taus must increase: asked for {tau_nm2} nm² after {} nm²",
            self.snapshot_tau_nm2
        );
        let plan = StepPlan::new(tau_nm2, self.beta, self.voxel_nm);
        while self.full_steps_done < plan.full_steps {
            let batch = (plan.full_steps - self.full_steps_done).min(STEPS_PER_REPORT);
            self.run_steps(batch)?;
            self.full_steps_done += batch;
            report(batch);
        }
        let shape = self.crop.shape;
        match (&self.state, &mut self.snapshot, plan.partial_beta) {
            (Field::Cpu(state), Field::Cpu(snapshot), Some(beta)) => {
                diffusion_step(shape, beta as f32, state, snapshot);
            }
            (Field::Cpu(state), Field::Cpu(snapshot), None) => snapshot.copy_from_slice(state),
            (Field::Gpu(state), Field::Gpu(snapshot), partial) => {
                let gpu = gpu_of(self.backend)?;
                match partial {
                    Some(beta) => {
                        gpu.diffusion_steps(shape, beta as f32, state, snapshot, 1)?;
                    }
                    None => gpu.copy(state, snapshot)?,
                }
            }
            _ => bail!("fields of a trajectory live on different backends"),
        }
        self.snapshot_tau_nm2 = tau_nm2;
        Ok(())
    }

    /// Runs full steps on the main state, leaving the result in `self.state`.
    fn run_steps(&mut self, steps: u64) -> Result<()> {
        if steps == 0 {
            return Ok(());
        }
        let shape = self.crop.shape;
        let beta = self.beta as f32;
        match (&mut self.state, &mut self.spare) {
            (Field::Cpu(state), Field::Cpu(spare)) => {
                diffusion_steps(shape, beta, state, spare, steps);
            }
            (Field::Gpu(state), Field::Gpu(spare)) => {
                let gpu = gpu_of(self.backend)?;
                if gpu.diffusion_steps(shape, beta, state, spare, steps)? {
                    std::mem::swap(state, spare);
                }
            }
            _ => bail!("fields of a trajectory live on different backends"),
        }
        Ok(())
    }

    /// tau of the current snapshot, nm².
    pub fn tau_nm2(&self) -> f64 {
        self.snapshot_tau_nm2
    }

    /// Steps taken so far on the main state (full steps only).
    pub fn full_steps_done(&self) -> u64 {
        self.full_steps_done
    }

    /// Count, sum and sum of squares of the snapshot's composition inside the mask.
    pub fn snapshot_moments(&self) -> Result<Moments> {
        match (&self.snapshot, &self.mask_bits) {
            (Field::Cpu(field), MaskBits::Cpu(bits)) => Ok(masked_moments(field, bits)),
            (Field::Gpu(field), MaskBits::Gpu(bits)) => {
                gpu_of(self.backend)?.masked_moments(field, bits)
            }
            _ => bail!("fields of a trajectory live on different backends"),
        }
    }

    /// The snapshot field (cropped, outside voxels marked) and where its crop sits in the full grid.
    pub fn snapshot_field(&self) -> (&Field, CropPlacement) {
        let r = &self.crop.ranges;
        (
            &self.snapshot,
            CropPlacement {
                origin: [r[0].start, r[1].start, r[2].start],
                shape: self.crop.shape,
                full_shape: self.full_shape,
                voxel_nm: self.voxel_nm,
            },
        )
    }

    /// The snapshot as a full-size composition volume (0 outside the mask).
    pub fn snapshot_volume(&self) -> Result<Volume> {
        let samples = match &self.snapshot {
            Field::Cpu(field) => field.clone(),
            Field::Gpu(field) => gpu_of(self.backend)?.download(field)?,
        };
        let cropped = Array3::from_shape_vec(self.crop.shape, samples)
            .context("snapshot size does not match its grid")?
            .mapv(|c| c.max(0.0));
        let mut full = Array3::<f32>::zeros(self.full_shape);
        let r = &self.crop.ranges;
        full.slice_mut(s![r[0].clone(), r[1].clone(), r[2].clone()])
            .assign(&cropped);
        Ok(Volume::new(full, self.voxel_nm)?)
    }
}
