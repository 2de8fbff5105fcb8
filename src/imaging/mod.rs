//! The simulated acquisition (docs/METHOD.md §4.3) and the degree of alloying (§4.4): a composition
//! field becomes intensity I = M·(1 + (r − 1)·C), is blurred by a 3D Gaussian, projected at the
//! tilt angles, given noise, reconstructed with SIRT, and summarised by its spread inside a mask.
//! The chain is written once over [`Kernels`]; on a GPU the volume stays on the device from the
//! composition field to the spread, and only a few numbers come back.

pub mod dose;
pub mod quantify;
pub mod start_state;

use std::ops::Range;

use anyhow::{Result, bail, ensure};
use ndarray::{Array3, s};
use serde::{Deserialize, Serialize};

use crate::backend::kernels::blur;
use crate::backend::{
    Backend, CpuKernels, GpuKernels, Grid, IntensityParams, Kernels, Moments, ProjectorParams, Ray,
};
use crate::diffusion::{CropPlacement, Fields, Trajectory};
use crate::io::tilts::default_tilts_deg;
use crate::tomography::TiltGeometry;
use crate::tomography::noise::{add_poisson_noise, standard_normal_field};
use crate::tomography::sirt::{SirtOptions, SirtSolver};
use crate::volume::{Mask, Volume, check_same_grid};

/// r = I_Au/I_Ag ≈ (79/47)^1.7 (docs/METHOD.md §4.3).
pub const CONTRAST_RATIO_DEFAULT: f64 = 2.4;
/// The blur's reach in standard deviations: the tails beyond 5σ change the variance by < 2e-5.
const BLUR_REACH_SIGMAS: f64 = 5.0;

/// Everything the chain needs besides the state it images and the noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagingParams {
    /// r = I_Au/I_Ag.
    pub contrast_ratio: f64,
    /// Standard deviation of the Gaussian blur, nm (0: none).
    pub blur_sigma_nm: f64,
    pub tilt_angles_deg: Vec<f64>,
    /// Pixels of the detector, one voxel wide each, centred on the tilt axis (None: as many as a
    /// slice is wide). The data's detector, where the particle's projection is wider than the slice.
    pub detector_pixels: Option<usize>,
    pub sirt_iterations: usize,
    /// Seed of the fixed standard-normal field of [`Noise::Smooth`].
    pub noise_seed: u64,
}

impl ImagingParams {
    /// docs/METHOD.md's defaults for a grid of `voxel_nm`: blur of one voxel, ±70° in 2° steps, 50
    /// SIRT iterations.
    pub fn defaults(voxel_nm: f64) -> ImagingParams {
        ImagingParams {
            contrast_ratio: CONTRAST_RATIO_DEFAULT,
            blur_sigma_nm: voxel_nm,
            tilt_angles_deg: default_tilts_deg(),
            detector_pixels: None,
            sirt_iterations: 50,
            noise_seed: 1,
        }
    }

    fn check(&self) -> Result<()> {
        ensure!(
            self.contrast_ratio.is_finite() && self.contrast_ratio > 1.0,
            "contrast ratio r = I_Au/I_Ag must be a number above 1, got {}",
            self.contrast_ratio
        );
        ensure!(
            self.blur_sigma_nm.is_finite() && self.blur_sigma_nm >= 0.0,
            "blur sigma must be a non-negative number of nm, got {}",
            self.blur_sigma_nm
        );
        ensure!(
            self.detector_pixels != Some(0),
            "the detector needs at least one pixel"
        );
        Ok(())
    }
}

/// The noise a chain run adds to its projections (docs/METHOD.md §4.3 step 4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    None,
    /// Exact Poisson counts at `dose` from a seeded generator, as a microscope records them.
    Poisson {
        dose: f64,
        seed: u64,
    },
    /// p + sqrt(p/λ)·z with the chain's fixed field z: smooth and deterministic in the state, for
    /// fitting.
    Smooth {
        dose: f64,
    },
}

/// What one chain run measured.
#[derive(Debug, Clone)]
pub struct Imaged {
    /// Moments of the reconstruction inside the analysis mask; the spread is their CV.
    pub moments: Moments,
    /// Moments on the central slice through the tilt axis, perpendicular to the 0° beam
    /// (docs/METHOD.md §4.5's noise slice).
    pub slice_moments: Moments,
    /// The reconstruction itself, when asked for.
    pub reconstruction: Option<Volume>,
}

impl Imaged {
    /// S = std/mean inside the mask.
    pub fn spread(&self) -> f64 {
        self.moments.coefficient_of_variation()
    }

    /// CV on the noise slice.
    pub fn slice_spread(&self) -> f64 {
        self.slice_moments.coefficient_of_variation()
    }
}

/// The normalised Gaussian taps of a blur with `sigma_voxels`, out to [`BLUR_REACH_SIGMAS`].
pub fn gaussian_taps(sigma_voxels: f64) -> Vec<f32> {
    let radius = (BLUR_REACH_SIGMAS * sigma_voxels).ceil() as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|t| (-(t * t) as f64 / (2.0 * sigma_voxels * sigma_voxels)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| (w / total) as f32).collect()
}

/// The row i of a slice that contains the tilt axis (y = 0) and so lies across the 0° beam.
pub fn central_row(n_i: usize) -> usize {
    n_i / 2
}

/// How far inside the particle's surface the noise is measured. The blurred edge, not the noise,
/// would otherwise make most of the central slice's CV on a thin rod (NR3 at 0.5 nm: the noise-free
/// CV was 97% of the measured one, and the calibrated dose 12 for a true 100).
pub const NOISE_SLICE_DEPTH_VOXELS: usize = 3;

/// `mask`, less its outer [`NOISE_SLICE_DEPTH_VOXELS`] layers, restricted to the central row's (k,
/// j) plane. A particle too thin for that (a few voxels across) loses fewer layers, down to none;
/// an error if the particle misses the plane altogether.
pub fn noise_slice_mask(mask: &Mask) -> Result<Mask> {
    let shape = mask.shape();
    let row = central_row(shape[1]);
    for depth in (0..=NOISE_SLICE_DEPTH_VOXELS).rev() {
        let mut data = quantify::eroded_mask(mask, depth)?.data().clone();
        for ((_, i, _), inside) in data.indexed_iter_mut() {
            *inside &= i == row;
        }
        let slice = Mask::new(data, mask.voxel_nm())?;
        if slice.count() > 0 {
            return Ok(slice);
        }
    }
    bail!("the particle does not reach the central slice (row {row}) that holds the tilt axis")
}

/// The mask every spread is measured in, as the chain and [`quantify::measure`] read it: its bits
/// and its noise slice's, derived once for all the volumes measured in it.
pub struct AnalysisRegion {
    pub(crate) grid: ([usize; 3], f64),
    pub(crate) bits: Vec<u32>,
    pub(crate) slice_bits: Vec<u32>,
    analysis: Mask,
    slice: Mask,
}

impl AnalysisRegion {
    pub fn new(analysis: &Mask) -> Result<AnalysisRegion> {
        ensure!(analysis.count() > 0, "the analysis mask is empty");
        let slice = noise_slice_mask(analysis)?;
        Ok(AnalysisRegion {
            grid: analysis.grid(),
            bits: analysis.to_bits(),
            slice_bits: slice.to_bits(),
            analysis: analysis.clone(),
            slice,
        })
    }

    /// The slices the region reaches.
    fn slices(&self) -> Range<usize> {
        let data = self.analysis.data();
        let first = data
            .outer_iter()
            .position(|slice| slice.iter().any(|&inside| inside));
        let last = data
            .outer_iter()
            .rposition(|slice| slice.iter().any(|&inside| inside));
        match (first, last) {
            (Some(first), Some(last)) => first..last + 1,
            _ => 0..0,
        }
    }
}

/// The chain for one grid, geometry and analysis mask on one backend, with its buffers, SIRT
/// weights and noise field prepared once and reused for every state it images.
///
/// The chain runs on a slab of the grid's slices: those the imaged state reaches, widened by the
/// blur's reach, and those of the analysis mask. The slices are independent 2D problems along the
/// tilt axis, and one whose projections are all zero (no intensity reaches it) stays zero through
/// every SIRT update and adds no noise, so leaving it out changes no value of the reconstruction;
/// NC1 at 2 nm then runs 39 of its 41 slices, five blocks of eight in the fast projectors instead of
/// six. The slab is prepared for the first state imaged and again only when a state reaches beyond
/// it.
pub struct ImagingChain<'a> {
    backend: &'a Backend,
    angles_deg: Vec<f64>,
    detector_pixels: usize,
    sirt: SirtOptions,
    taps: Option<Vec<f32>>,
    region: AnalysisRegion,
    region_slices: Range<usize>,
    shape: [usize; 3],
    voxel_nm: f64,
    contrast_ratio: f64,
    noise_seed: u64,
    slab: Option<Slab<'a>>,
}

/// The chain prepared for the slices `slices` of the grid.
struct Slab<'a> {
    slices: Range<usize>,
    prepared: Prepared<'a>,
    series_shape: [usize; 3],
}

enum Prepared<'a> {
    Cpu(Box<ChainBuffers<CpuKernels>>),
    Gpu(Box<ChainBuffers<GpuKernels<'a>>>),
}

struct ChainBuffers<K: Kernels> {
    kernels: K,
    sirt: SirtSolver<K>,
    taps: Option<(K::Buffer, u32)>,
    analysis: K::Bits,
    slice: K::Bits,
    intensity: K::Buffer,
    scratch: K::Buffer,
    series: K::Buffer,
    volume: K::Buffer,
    normal: Option<K::Buffer>,
}

impl<'a> ImagingChain<'a> {
    /// Prepares the chain for volumes on `region`'s grid; spreads are measured inside `region`.
    pub fn new(
        backend: &'a Backend,
        params: &ImagingParams,
        region: &AnalysisRegion,
    ) -> Result<Self> {
        params.check()?;
        let (shape, voxel_nm) = region.grid;
        let detector_pixels = params.detector_pixels.unwrap_or(shape[2]);
        TiltGeometry::new(params.tilt_angles_deg.clone(), detector_pixels, 1.0)?;
        let sigma_voxels = params.blur_sigma_nm / voxel_nm;
        Ok(ImagingChain {
            backend,
            angles_deg: params.tilt_angles_deg.clone(),
            detector_pixels,
            sirt: SirtOptions {
                iterations: params.sirt_iterations,
                ..SirtOptions::default()
            },
            taps: (sigma_voxels > 0.0).then(|| gaussian_taps(sigma_voxels)),
            region: AnalysisRegion {
                grid: region.grid,
                bits: region.bits.clone(),
                slice_bits: region.slice_bits.clone(),
                analysis: region.analysis.clone(),
                slice: region.slice.clone(),
            },
            region_slices: region.slices(),
            shape,
            voxel_nm,
            contrast_ratio: params.contrast_ratio,
            noise_seed: params.noise_seed,
            slab: None,
        })
    }

    /// Refuses a particle whose projection leaves the chain's detector at some tilt: the chain would
    /// cut it off, and fit a D biased by the cut (7–11% on a cube whose 45° projection was wider than
    /// its box), unless the data were cut off the same way, which the reconstructions cannot tell.
    pub fn check_detector_holds(&self, particle: &Mask) -> Result<()> {
        let [_, n_i, n_j] = self.shape;
        ensure!(
            particle.shape()[1..] == self.shape[1..],
            "the particle's mask is not on the chain's grid"
        );
        let half_width = self.detector_pixels as f64 / 2.0;
        let voxels: Vec<(f64, f64)> = particle
            .data()
            .indexed_iter()
            .filter(|(_, inside)| **inside)
            .map(|((_, i, j), _)| {
                (
                    j as f64 + 0.5 - n_j as f64 / 2.0,
                    n_i as f64 / 2.0 - i as f64 - 0.5,
                )
            })
            .collect();
        for &angle_deg in &self.angles_deg {
            let (sin, cos) = angle_deg.to_radians().sin_cos();
            // A voxel's own footprint reaches (|cos θ| + |sin θ|)/2 either side of its centre's u.
            let footprint = (cos.abs() + sin.abs()) / 2.0;
            let reach = voxels
                .iter()
                .map(|&(x, y)| (x * cos + y * sin).abs() + footprint)
                .fold(0.0, f64::max);
            if reach > half_width + 1e-9 {
                let needed = (2.0 * reach).ceil() as usize;
                bail!(
                    "at {angle_deg}° the particle's projection reaches {reach:.2} voxels from the tilt \
                     axis, past the {}-pixel detector the simulation images it on ({half_width} \
                     either side): it would be cut off. If the tilt series was recorded on a wider \
                     detector, set imaging.detector_pixels to its width in voxels (at least \
                     {needed}); if the reconstructions come from a series cut off like this, \
                     reconstruct them on a wider detector or a larger box",
                    self.detector_pixels
                );
            }
        }
        Ok(())
    }

    /// How many slices the blur reaches either side of a slice.
    fn blur_reach(&self) -> usize {
        self.taps.as_ref().map_or(0, |taps| taps.len() / 2)
    }

    /// The slices a state cropped to `crop` slices needs: those, widened by the blur's reach, and
    /// the analysis region's.
    fn slab_for(&self, crop: Range<usize>) -> Range<usize> {
        let reach = self.blur_reach();
        let first = crop
            .start
            .saturating_sub(reach)
            .min(self.region_slices.start);
        let end = (crop.end + reach)
            .min(self.shape[0])
            .max(self.region_slices.end);
        first..end
    }

    /// The chain's buffers for `slices`, prepared on the backend.
    fn prepare_slab(&self, slices: Range<usize>) -> Result<Slab<'a>> {
        let shape = [slices.len(), self.shape[1], self.shape[2]];
        let geometry = TiltGeometry::new(self.angles_deg.clone(), self.detector_pixels, 1.0)?;
        let series_shape = geometry.series_shape(shape);
        let in_slab = |mask: &Mask| -> Result<Vec<u32>> {
            let data = mask.data().slice(s![slices.clone(), .., ..]).to_owned();
            Ok(Mask::new(data, self.voxel_nm)?.to_bits())
        };
        let analysis_bits = in_slab(&self.region.analysis)?;
        let slice_bits = in_slab(&self.region.slice)?;
        let setup = ChainSetup {
            rays: &geometry.rays(),
            projector: &geometry.params(shape)?,
            shape,
            voxel_nm: self.voxel_nm,
            series_len: series_shape.iter().product(),
            sirt: &self.sirt,
            taps: self.taps.as_deref(),
            analysis_bits: &analysis_bits,
            slice_bits: &slice_bits,
        };
        let prepared = match self.backend {
            Backend::Cpu => Prepared::Cpu(Box::new(ChainBuffers::new(CpuKernels, &setup)?)),
            Backend::Gpu(gpu) => {
                Prepared::Gpu(Box::new(ChainBuffers::new(GpuKernels { gpu }, &setup)?))
            }
        };
        Ok(Slab {
            slices,
            prepared,
            series_shape,
        })
    }

    /// Images the current snapshot of `state`; keeps the reconstruction if `keep_reconstruction`.
    pub fn image(
        &mut self,
        state: &Trajectory,
        noise: Noise,
        keep_reconstruction: bool,
    ) -> Result<Imaged> {
        let place = self.placement_of(state)?;
        let needed = self.slab_for(place.origin[0]..place.origin[0] + place.shape[0]);
        let fits = self
            .slab
            .as_ref()
            .is_some_and(|slab| slab.slices.start <= needed.start && needed.end <= slab.slices.end);
        if !fits {
            self.slab = Some(self.prepare_slab(needed)?);
        }
        self.image_on_slab(state, noise, keep_reconstruction)
    }

    /// Reconstructs the current snapshot of `state` on the slices `wanted` only; the volume's other
    /// slices are zero. Each wanted slice is the one [`ImagingChain::image`] reconstructs, bit for
    /// bit: the chain runs on a slab of the wanted slices widened by the blur's reach, the slices
    /// being independent problems along the tilt axis and the blur reaching no further. For a
    /// figure of a few slices this images a few of the grid's slices instead of the particle's.
    /// Poisson noise is refused: its draws follow one another through every slice's projection.
    pub fn reconstruct_slices(
        &mut self,
        state: &Trajectory,
        noise: Noise,
        wanted: Range<usize>,
    ) -> Result<Volume> {
        ensure!(
            !wanted.is_empty() && wanted.end <= self.shape[0],
            "slices {wanted:?} are not within the grid's {} slices",
            self.shape[0]
        );
        ensure!(
            !matches!(noise, Noise::Poisson { .. }),
            "a few slices cannot be reconstructed alone with Poisson noise, whose draws depend on \
             every slice's projection"
        );
        self.placement_of(state)?;
        let reach = self.blur_reach();
        let needed = wanted.start.saturating_sub(reach)..(wanted.end + reach).min(self.shape[0]);
        if self.slab.as_ref().map(|slab| &slab.slices) != Some(&needed) {
            self.slab = Some(self.prepare_slab(needed)?);
        }
        let imaged = self.image_on_slab(state, noise, true)?;
        let mut volume = imaged
            .reconstruction
            .expect("the chain keeps the reconstruction when asked")
            .into_data();
        for (k, mut slice) in volume.outer_iter_mut().enumerate() {
            if !wanted.contains(&k) {
                slice.fill(0.0);
            }
        }
        Ok(Volume::new(volume, self.voxel_nm)?)
    }

    /// Where `state`'s crop sits, checked to lie on the chain's grid.
    fn placement_of(&self, state: &Trajectory) -> Result<CropPlacement> {
        let (_, place) = state.snapshot_fields();
        check_same_grid(
            "imaged state and imaging chain",
            (place.full_shape, place.voxel_nm),
            (self.shape, self.voxel_nm),
        )?;
        Ok(place)
    }

    /// Images `state`, checked to lie on the chain's grid, on the prepared slab, which holds every
    /// slice of the state that reaches a slice wanted.
    fn image_on_slab(
        &mut self,
        state: &Trajectory,
        noise: Noise,
        keep_reconstruction: bool,
    ) -> Result<Imaged> {
        let (fields, place) = state.snapshot_fields();
        let slab = self.slab.as_mut().expect("the slab is prepared first");
        let u = |n: usize| n as u32;
        let params = IntensityParams {
            grid: Grid::new([slab.slices.len(), self.shape[1], self.shape[2]].map(u)),
            contrast_minus_one: (self.contrast_ratio - 1.0) as f32,
            // A slab may start inside the crop: the kernels take the difference modulo 2^32.
            k0: u(place.origin[0]).wrapping_sub(u(slab.slices.start)),
            i0: u(place.origin[1]),
            j0: u(place.origin[2]),
            crop_k: u(place.shape[0]),
            crop_i: u(place.shape[1]),
            crop_j: u(place.shape[2]),
            padding: 0,
        };
        let run = ChainRun {
            intensity: &params,
            noise,
            noise_seed: self.noise_seed,
            full_series_shape: [self.angles_deg.len(), self.shape[0], self.detector_pixels],
            slices: slab.slices.clone(),
            series_shape: slab.series_shape,
            keep_reconstruction,
        };
        let (moments, slice_moments, voxels) = match (&mut slab.prepared, fields) {
            (Prepared::Cpu(buffers), Fields::Cpu(fields)) => {
                buffers.image(&fields.snapshot, &run)?
            }
            (Prepared::Gpu(buffers), Fields::Gpu(fields)) => {
                buffers.image(&fields.snapshot, &run)?
            }
            _ => bail!("the imaged state and the imaging chain run on different backends"),
        };
        let reconstruction = match voxels {
            Some(voxels) => {
                let mut full = Array3::zeros(self.shape);
                full.slice_mut(s![slab.slices.clone(), .., ..])
                    .assign(&Array3::from_shape_vec(
                        [slab.slices.len(), self.shape[1], self.shape[2]],
                        voxels,
                    )?);
                Some(Volume::new(full, self.voxel_nm)?)
            }
            None => None,
        };
        Ok(Imaged {
            moments,
            slice_moments,
            reconstruction,
        })
    }
}

struct ChainSetup<'s> {
    rays: &'s [Ray],
    projector: &'s ProjectorParams,
    /// The slab's shape.
    shape: [usize; 3],
    voxel_nm: f64,
    series_len: usize,
    sirt: &'s SirtOptions,
    taps: Option<&'s [f32]>,
    analysis_bits: &'s [u32],
    slice_bits: &'s [u32],
}

struct ChainRun<'r> {
    intensity: &'r IntensityParams,
    noise: Noise,
    noise_seed: u64,
    /// The series of the whole grid, whose fixed noise field the slab's is cut from.
    full_series_shape: [usize; 3],
    slices: Range<usize>,
    series_shape: [usize; 3],
    keep_reconstruction: bool,
}

impl<K: Kernels> ChainBuffers<K> {
    fn new(kernels: K, setup: &ChainSetup) -> Result<Self> {
        let (shape, voxel_nm) = (setup.shape, setup.voxel_nm);
        let volume_len: usize = shape.iter().product();
        let geometry = kernels.geometry(setup.rays, setup.projector)?;
        let sirt = SirtSolver::new(
            &kernels,
            geometry,
            shape,
            voxel_nm,
            setup.series_len,
            setup.sirt,
        )?;
        let taps = match setup.taps {
            Some(taps) => Some((kernels.upload(taps)?, (taps.len() / 2) as u32)),
            None => None,
        };
        Ok(ChainBuffers {
            sirt,
            taps,
            analysis: kernels.upload_bits(setup.analysis_bits, volume_len)?,
            slice: kernels.upload_bits(setup.slice_bits, volume_len)?,
            intensity: kernels.zeros(volume_len)?,
            scratch: kernels.zeros(volume_len)?,
            series: kernels.zeros(setup.series_len)?,
            volume: kernels.zeros(volume_len)?,
            normal: None,
            kernels,
        })
    }

    /// Images `field` in one submit (two where Poisson noise is drawn on the host, and one more to
    /// keep the reconstruction).
    fn image(
        &mut self,
        field: &K::Buffer,
        run: &ChainRun,
    ) -> Result<(Moments, Moments, Option<Vec<f32>>)> {
        let k = &self.kernels;
        let p = run.intensity;
        let mut encoder = k.encoder();
        k.intensity(&mut encoder, field, p, &mut self.intensity);
        if let Some((taps, radius)) = &self.taps {
            let shape = [p.grid.n_k, p.grid.n_i, p.grid.n_j].map(|n| n as usize);
            blur(
                k,
                &mut encoder,
                shape,
                taps,
                *radius,
                &mut self.intensity,
                &mut self.scratch,
            );
        }
        k.forward(
            &mut encoder,
            self.sirt.geometry(),
            &self.intensity,
            &mut self.series,
        );
        match run.noise {
            Noise::None => {}
            Noise::Smooth { dose } => {
                ensure!(
                    dose.is_finite() && dose > 0.0,
                    "dose must be a positive number of counts per unit projected intensity, got {dose}"
                );
                if self.normal.is_none() {
                    let z = slab_noise_field(run);
                    self.normal = Some(k.upload(&z)?);
                }
                let normal = self.normal.as_ref().expect("set above");
                k.smooth_noise(&mut encoder, &mut self.series, normal, (1.0 / dose) as f32);
            }
            Noise::Poisson { dose, seed } => {
                let pending = std::mem::replace(&mut encoder, k.encoder());
                let mut series =
                    Array3::from_shape_vec(run.series_shape, k.download(pending, &self.series)?)?;
                add_poisson_noise(&mut series, dose, seed)?;
                self.series = k.upload(series.as_slice().expect("standard layout"))?;
            }
        }
        self.sirt
            .record(k, &mut encoder, &self.series, &mut self.volume);
        let both = k.moments(encoder, &self.volume, &[&self.analysis, &self.slice])?;
        let (moments, slice_moments) = (both[0], both[1]);
        let voxels = if run.keep_reconstruction {
            Some(k.download(k.encoder(), &self.volume)?)
        } else {
            None
        };
        Ok((moments, slice_moments, voxels))
    }
}

/// The chain's fixed standard-normal field on the slab's slices: cut from the whole grid's, so that
/// each sample keeps the value it has when the chain runs on every slice.
fn slab_noise_field(run: &ChainRun) -> Vec<f32> {
    let full = standard_normal_field(run.full_series_shape, run.noise_seed);
    let [_, n_k, n_det] = run.full_series_shape;
    full.chunks_exact(n_k * n_det)
        .flat_map(|image| &image[run.slices.start * n_det..run.slices.end * n_det])
        .copied()
        .collect()
}

/// Degree of alloying α = (S(0) − S)/(S(0) − S_100) (docs/METHOD.md §4.4), not clipped.
pub fn alloying_degree(spread: f64, spread_initial: f64, spread_alloyed: f64) -> f64 {
    (spread_initial - spread) / (spread_initial - spread_alloyed)
}
