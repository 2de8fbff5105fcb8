//! Fick's second law on a fixed particle mask (docs/METHOD.md §4.1–4.2): the time-step plan, mask
//! preparation, and [`Trajectory`], which walks through increasing tau = D·t on either backend and
//! hands out snapshots that stay on the device. The steps are written once, over [`Kernels`].
//!
//! Work happens only inside the mask's bounding box. Outside voxels carry the marker
//! [`OUTSIDE`](crate::backend::OUTSIDE) in the field itself (see `shaders/diffusion.wgsl` for why).
//! The main state advances by full steps of Δτ = β·h² only; a requested tau is reached by one
//! partial step into a separate snapshot field. So a snapshot is the same, bit for bit, whether a
//! trajectory passed through earlier taus or not.

mod masks;

use std::ops::Range;

use anyhow::{Context, Result, bail, ensure};
use ndarray::{Array3, s};

pub use masks::{PreparedMask, prepare_mask};

use crate::backend::{Backend, CpuKernels, GpuKernels, Kernels, Moments, OUTSIDE};
use crate::progress::Interrupted;
use crate::volume::{Mask, Volume, check_same_grid};

/// The largest stable β = Δτ/h² of the explicit 7-point scheme; it also keeps the maximum
/// principle.
pub const BETA_MAX: f64 = 1.0 / 6.0;
/// docs/METHOD.md §4.1's default β.
pub const BETA_DEFAULT: f64 = 0.15;
/// Steps between progress reports, and per GPU submit: enough to amortise a submit, few enough
/// that the driver's command buffers stay small and a watchdog never sees one long submission.
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
    crop: Crop,
    full_shape: [usize; 3],
    voxel_nm: f64,
    beta: f64,
    full_steps_done: u64,
    snapshot_tau_nm2: f64,
    fields: Fields<'a>,
}

/// A trajectory's fields on the backend that runs it.
pub(crate) enum Fields<'a> {
    Cpu(Box<TrajectoryFields<CpuKernels>>),
    Gpu(Box<TrajectoryFields<GpuKernels<'a>>>),
}

/// The main state after `full_steps_done` full steps and its ping-pong partner, the last snapshot
/// handed out, and the cropped mask's bits.
pub(crate) struct TrajectoryFields<K: Kernels> {
    kernels: K,
    state: K::Buffer,
    spare: K::Buffer,
    pub(crate) snapshot: K::Buffer,
    mask_bits: K::Bits,
}

impl<K: Kernels> TrajectoryFields<K> {
    fn new(kernels: K, field: &[f32], bits: &[u32]) -> Result<Self> {
        Ok(TrajectoryFields {
            state: kernels.upload(field)?,
            spare: kernels.upload(field)?,
            snapshot: kernels.upload(field)?,
            mask_bits: kernels.upload_bits(bits, field.len())?,
            kernels,
        })
    }

    fn run_steps(&mut self, shape: [usize; 3], beta: f32, steps: u64) -> Result<()> {
        let k = &self.kernels;
        let mut encoder = k.encoder();
        k.diffusion_steps(
            &mut encoder,
            shape,
            beta,
            &mut self.state,
            &mut self.spare,
            steps,
        )?;
        k.submit(encoder);
        Ok(())
    }

    /// The snapshot: the state, or one partial step of `partial_beta` from it.
    fn take_snapshot(&mut self, shape: [usize; 3], partial_beta: Option<f32>) -> Result<()> {
        let k = &self.kernels;
        let mut encoder = k.encoder();
        match partial_beta {
            Some(beta) => {
                k.diffusion_step(&mut encoder, shape, beta, &self.state, &mut self.snapshot)?
            }
            None => k.copy(&mut encoder, &self.state, &mut self.snapshot)?,
        }
        k.submit(encoder);
        Ok(())
    }

    fn snapshot_moments(&self) -> Result<Moments> {
        let k = &self.kernels;
        k.moments_in(k.encoder(), &self.snapshot, &self.mask_bits)
    }

    fn snapshot_samples(&self) -> Result<Vec<f32>> {
        let k = &self.kernels;
        k.download(k.encoder(), &self.snapshot)
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
        let fields = match backend {
            Backend::Cpu => {
                Fields::Cpu(Box::new(TrajectoryFields::new(CpuKernels, &field, &bits)?))
            }
            Backend::Gpu(gpu) => Fields::Gpu(Box::new(TrajectoryFields::new(
                GpuKernels { gpu },
                &field,
                &bits,
            )?)),
        };
        Ok(Trajectory {
            crop: Crop { ranges, shape },
            full_shape: composition.shape(),
            voxel_nm: composition.voxel_nm(),
            beta,
            full_steps_done: 0,
            snapshot_tau_nm2: 0.0,
            fields,
        })
    }

    /// Advances to `tau_nm2` (not below the last snapshot's) and makes the snapshot there.
    pub fn advance_to(&mut self, tau_nm2: f64) -> Result<()> {
        self.advance_to_reporting(tau_nm2, &mut |_| Ok(()))
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
        report: &mut dyn FnMut(u64) -> Result<(), Interrupted>,
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
            report(batch)?;
        }
        let shape = self.crop.shape;
        let partial_beta = plan.partial_beta.map(|beta| beta as f32);
        match &mut self.fields {
            Fields::Cpu(fields) => fields.take_snapshot(shape, partial_beta)?,
            Fields::Gpu(fields) => fields.take_snapshot(shape, partial_beta)?,
        }
        self.snapshot_tau_nm2 = tau_nm2;
        Ok(())
    }

    /// Runs full steps on the main state.
    fn run_steps(&mut self, steps: u64) -> Result<()> {
        if steps == 0 {
            return Ok(());
        }
        let shape = self.crop.shape;
        let beta = self.beta as f32;
        match &mut self.fields {
            Fields::Cpu(fields) => fields.run_steps(shape, beta, steps),
            Fields::Gpu(fields) => fields.run_steps(shape, beta, steps),
        }
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
        match &self.fields {
            Fields::Cpu(fields) => fields.snapshot_moments(),
            Fields::Gpu(fields) => fields.snapshot_moments(),
        }
    }

    /// The fields (the snapshot cropped, outside voxels marked) and where the crop sits in the full
    /// grid.
    pub(crate) fn snapshot_fields(&self) -> (&Fields<'a>, CropPlacement) {
        let r = &self.crop.ranges;
        (
            &self.fields,
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
        let samples = match &self.fields {
            Fields::Cpu(fields) => fields.snapshot_samples()?,
            Fields::Gpu(fields) => fields.snapshot_samples()?,
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
