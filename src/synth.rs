//! Synthetic experiments (`alloyfit synth`), made as a microscope would make them: a phantom
//! diffuses with the true D, and at each time it is imaged with exact Poisson noise. The folder
//! gets one reconstruction per time and one of the particle fully alloyed (to measure the noise on,
//! as an experiment ends), the experiment file that `quantify` and `fit` read, and truth.json with
//! everything that made it.
//!
//! By default the particle is voxelised, diffused, blurred and projected on a grid twice as fine as
//! the reconstructions, and its projections are binned to the detector pixel: data made on the
//! grid the fit simulates on would share its discretisation (the inverse crime of tomography), and
//! fit better than a microscope's. Only the SIRT runs on the output grid. `oversample = 1` images
//! on the output grid through the fit's own chain.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use ndarray::{Array3, s};
use serde::Serialize;

use crate::analysis::uniform_in;
use crate::backend::Backend;
use crate::diffusion::{Trajectory, tau_nm2};
use crate::experiment::{
    DataSection, DoseSetting, Experiment, FitSection, ImagingSection, InitialState,
    ParticleSection, StartMask,
};
use crate::imaging::quantify::START_MASK_SMOOTHING_VOXELS;
use crate::imaging::{AnalysisRegion, ImagingChain, ImagingParams, Noise, gaussian_taps};
use crate::io::{Overwrite, StagedDir, write_atomically, write_bytes_atomically, write_volume};
use crate::phantom::{PhantomOptions, ShapeJitter, find_particle, voxelize, voxelize_on};
use crate::progress::Progress;
use crate::tomography::noise::add_poisson_noise;
use crate::tomography::sirt::{SirtOptions, sirt};
use crate::tomography::{TiltGeometry, TiltSeries, forward_project};
use crate::volume::{Mask, Volume};

/// What a synthetic experiment is made from.
#[derive(Debug, Clone, Serialize)]
pub struct SynthConfig {
    pub phantom: String,
    pub d_m2s: f64,
    pub voxel_nm: f64,
    pub times_s: Vec<f64>,
    /// Counts per unit projected intensity of the exact Poisson noise.
    pub dose: f64,
    pub seed: u64,
    /// The tilt spec (or file name) written into the experiment file.
    pub tilts: String,
    pub imaging: ImagingParams,
    pub beta: f64,
    /// Fine voxels per output voxel along each axis on which the particle is made (1: the output
    /// grid, through the fit's own chain).
    pub oversample: usize,
    /// Reconstruct on slices this many voxels square, centred on the tilt axis, from a detector as
    /// wide as the phantom's grid: a tight field of view, narrower than the particle's widest
    /// projection. The experiment file records the detector as `imaging.detector_pixels`.
    pub fov_voxels: Option<usize>,
    /// Move the particle's surfaces off the ideal shapes by up to this many nm, smoothly and at
    /// random from `seed` ([`ShapeJitter`]): a particle that is none of the listed shapes.
    pub shape_jitter_nm: Option<f64>,
}

/// truth.json: the configuration plus what the phantom achieved.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    #[serde(flatten)]
    pub config: SynthConfig,
    pub mean_au_fraction: f64,
    pub mask_voxels: usize,
    pub shape: [usize; 3],
    pub alloyfit_version: &'static str,
}

/// The Poisson seed of time point `index`: one independent stream family per reconstruction.
fn time_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The finest oversampling taken: 4 costs 4⁵ ≈ 1000 times the diffusion of the output grid.
pub const MAX_OVERSAMPLE: usize = 4;

/// How a synthetic experiment images its particle.
enum Imager<'a> {
    /// On the output grid, through the chain the fit simulates with.
    Chain(ImagingChain<'a>),
    /// On a finer grid, its projections binned to the detector pixel.
    Fine(FineImaging<'a>),
}

impl Imager<'_> {
    /// The reconstruction of `state` with Poisson noise at `dose` drawn from `seed`.
    fn reconstruct(&mut self, state: &Trajectory, dose: f64, seed: u64) -> Result<Volume> {
        match self {
            Imager::Chain(chain) => Ok(chain
                .image(state, Noise::Poisson { dose, seed }, true)?
                .reconstruction
                .expect("asked for the reconstruction")),
            Imager::Fine(fine) => fine.reconstruct(&state.snapshot_volume()?, dose, seed),
        }
    }
}

/// The acquisition of a particle made on a grid `factor` times as fine as the output's: intensity
/// and blur on the fine grid, projection onto a detector of `factor` fine pixels per output pixel,
/// the pixels binned `factor` × `factor` (along the tilt axis and across it), Poisson noise on the
/// binned series, and SIRT on the output grid.
struct FineImaging<'a> {
    backend: &'a Backend,
    factor: usize,
    fine_mask: Mask,
    fine_geometry: TiltGeometry,
    output_geometry: TiltGeometry,
    output_shape: [usize; 3],
    voxel_nm: f64,
    contrast_minus_one: f64,
    taps: Option<Vec<f32>>,
    sirt: SirtOptions,
}

impl<'a> FineImaging<'a> {
    /// Images `fine_mask`'s particle onto a detector of `n_det` output pixels and reconstructs it
    /// on `output_shape`, both centred on the tilt axis.
    fn new(
        backend: &'a Backend,
        config: &SynthConfig,
        fine_mask: &Mask,
        n_det: usize,
        output_shape: [usize; 3],
    ) -> Result<Self> {
        let factor = config.oversample;
        let angles = config.imaging.tilt_angles_deg.clone();
        let sigma_fine_voxels = config.imaging.blur_sigma_nm / config.voxel_nm * factor as f64;
        Ok(FineImaging {
            backend,
            factor,
            fine_mask: fine_mask.clone(),
            fine_geometry: TiltGeometry::new(angles.clone(), n_det * factor, 1.0)?,
            output_geometry: TiltGeometry::new(angles, n_det, 1.0)?,
            output_shape,
            voxel_nm: config.voxel_nm,
            contrast_minus_one: config.imaging.contrast_ratio - 1.0,
            taps: (sigma_fine_voxels > 0.0).then(|| gaussian_taps(sigma_fine_voxels)),
            sirt: SirtOptions {
                iterations: config.imaging.sirt_iterations,
                ..SirtOptions::default()
            },
        })
    }

    fn reconstruct(&self, composition: &Volume, dose: f64, seed: u64) -> Result<Volume> {
        let fine_voxel_nm = self.voxel_nm / self.factor as f64;
        let mut intensity = composition
            .data()
            .mapv(|c| (1.0 + self.contrast_minus_one * f64::from(c)) as f32);
        intensity.zip_mut_with(self.fine_mask.data(), |value, &inside| {
            if !inside {
                *value = 0.0;
            }
        });
        let shape = self.fine_mask.shape();
        if let Some(taps) = &self.taps {
            let flat = intensity.as_slice().expect("a new array is contiguous");
            intensity = Array3::from_shape_vec(shape, self.backend.blur(flat, shape, taps)?)?;
        }
        let fine = forward_project(
            self.backend,
            &Volume::new(intensity, fine_voxel_nm)?,
            &self.fine_geometry,
        )?;
        let mut series = bin_series(&fine, self.factor);
        add_poisson_noise(&mut series, dose, seed)?;
        let reconstruction = sirt(
            self.backend,
            &series,
            &self.output_geometry,
            self.output_shape,
            self.voxel_nm,
            &self.sirt,
            &mut |_| Ok(()),
        )?;
        Ok(reconstruction.volume)
    }
}

/// Checks that a field of view of `fov` voxels square holds the particle of `mask`, and that the
/// particle is made on a finer grid, the only one that images beyond the reconstructed box.
fn check_fov(mask: &Mask, fov: usize, oversample: usize) -> Result<()> {
    let [_, n_i, n_j] = mask.shape();
    ensure!(
        oversample >= 2,
        "--fov needs --oversample 2 or more: the output grid's own chain images only its box"
    );
    ensure!(
        fov >= 1
            && fov <= n_i.min(n_j)
            && (n_j - fov).is_multiple_of(2)
            && (n_i - fov).is_multiple_of(2),
        "--fov must be 1 to {n_j} voxels and differ from the phantom's grid ({n_i} x {n_j}) by an even number, so that the box's voxels are the grid's; got {fov}"
    );
    // The box's first row and column: centred, as the detector and the slices are.
    let (i0, j0) = ((n_i - fov) / 2, (n_j - fov) / 2);
    let outside = mask.data().indexed_iter().any(|((_, i, j), &inside)| {
        inside && !((i0..i0 + fov).contains(&i) && (j0..j0 + fov).contains(&j))
    });
    ensure!(
        !outside,
        "the particle reaches outside a {fov}-voxel field of view; give a larger --fov"
    );
    Ok(())
}

/// Bins a fine tilt series `factor` × `factor` (slices and detector pixels) to the output's pixel.
/// Its line integrals count fine voxels; the output's count output voxels, `factor` times longer.
fn bin_series(fine: &TiltSeries, factor: usize) -> TiltSeries {
    let [angles, n_k, n_m] = [fine.shape()[0], fine.shape()[1], fine.shape()[2]];
    let per_pixel = (factor * factor * factor) as f64;
    Array3::from_shape_fn([angles, n_k / factor, n_m / factor], |(a, k, m)| {
        let block = fine.slice(s![
            a,
            k * factor..(k + 1) * factor,
            m * factor..(m + 1) * factor
        ]);
        (block.iter().map(|&v| f64::from(v)).sum::<f64>() / per_pixel) as f32
    })
}

/// The fully alloyed particle's reconstruction, for the noise estimate.
pub const ALLOYED_NAME: &str = "recon_alloyed.tif";

/// File name of the reconstruction at time index `index`.
pub fn reconstruction_name(index: usize, t_s: f64) -> String {
    format!("recon_{index:02}_t{t_s}s.tif")
}

/// The `alloyfit synth` command that makes `config`'s experiment again, every option spelled out.
fn command_line(config: &SynthConfig) -> String {
    let times: Vec<String> = config.times_s.iter().map(f64::to_string).collect();
    format!(
        "alloyfit synth --phantom {} --d {:e} --voxel-nm {} --oversample {} --seed {} --dose {} --iterations {} --blur-nm {} --contrast {} --tilts={} --times {}",
        config.phantom,
        config.d_m2s,
        config.voxel_nm,
        config.oversample,
        config.seed,
        config.dose,
        config.imaging.sirt_iterations,
        config.imaging.blur_sigma_nm,
        config.imaging.contrast_ratio,
        config.tilts,
        times.join(",")
    ) + &config
        .fov_voxels
        .map_or(String::new(), |fov| format!(" --fov {fov}"))
        + &config
            .shape_jitter_nm
            .map_or(String::new(), |nm| format!(" --shape-jitter {nm}"))
}

/// Makes the experiment in `staged`, one progress step per time point.
pub fn synthesize(
    backend: &Backend,
    config: &SynthConfig,
    staged: &StagedDir,
    progress: &mut dyn Progress,
) -> Result<Truth> {
    ensure!(
        config.d_m2s.is_finite() && config.d_m2s > 0.0,
        "D must be a positive number of m²/s, got {}",
        config.d_m2s
    );
    ensure!(
        config.dose.is_finite() && config.dose > 0.0,
        "dose must be a positive number of counts per unit projected intensity, got {}",
        config.dose
    );
    ensure!(
        config.times_s.len() >= 3 && config.times_s[0] == 0.0,
        "times must start at 0 s (the state before heating) and hold at least 3 points, got {:?}",
        config.times_s
    );
    ensure!(
        (1..=MAX_OVERSAMPLE).contains(&config.oversample),
        "--oversample must be 1 to {MAX_OVERSAMPLE} fine voxels per voxel, got {}",
        config.oversample
    );
    let mut particle = find_particle(&config.phantom)?;
    if let Some(amplitude_nm) = config.shape_jitter_nm {
        particle.jitter =
            Some(ShapeJitter::new(amplitude_nm, config.seed).context("--shape-jitter")?);
    }
    let options = PhantomOptions {
        voxel_nm: config.voxel_nm,
        ..PhantomOptions::default()
    };
    let phantom = voxelize(&particle, &options)?;
    if let Some(fov) = config.fov_voxels {
        check_fov(&phantom.mask, fov, config.oversample)?;
    }
    let chain = ImagingChain::new(
        backend,
        &config.imaging,
        &AnalysisRegion::new(&phantom.mask)?,
    )?;
    chain.check_detector_holds(&phantom.mask)?;
    let factor = config.oversample;
    let made = if factor == 1 {
        phantom.clone()
    } else {
        progress.line(&format!(
            "voxelising {} on a grid {factor} times as fine ({} nm)",
            config.phantom,
            config.voxel_nm / factor as f64
        ));
        let fine = PhantomOptions {
            voxel_nm: config.voxel_nm / factor as f64,
            pad_voxels: options.pad_voxels * factor,
            ..options
        };
        voxelize_on(&particle, &fine, phantom.mask.shape().map(|n| n * factor))?
    };
    let mean_au_fraction = Backend::Cpu
        .masked_moments(&made.composition, &made.mask)?
        .mean();
    let mut imager = if factor == 1 {
        Imager::Chain(chain)
    } else {
        let grid = phantom.mask.shape();
        let n_det = config.imaging.detector_pixels.unwrap_or(grid[2]);
        let box_voxels = config.fov_voxels.unwrap_or(grid[2]);
        Imager::Fine(FineImaging::new(
            backend,
            config,
            &made.mask,
            n_det,
            [grid[0], box_voxels, box_voxels],
        )?)
    };
    let mut trajectory = Trajectory::new(backend, &made.composition, &made.mask, config.beta)?;
    let mut files = Vec::with_capacity(config.times_s.len());
    for (index, &t_s) in config.times_s.iter().enumerate() {
        trajectory.advance_to(tau_nm2(config.d_m2s, t_s))?;
        let volume = imager.reconstruct(&trajectory, config.dose, time_seed(config.seed, index))?;
        let name = reconstruction_name(index, t_s);
        write_volume(&staged.path(&name), &volume, Overwrite::Refuse)?;
        files.push(PathBuf::from(name));
        progress.step("imaging", index + 1, config.times_s.len())?;
    }
    // The particle annealed to the end, imaged as the others: what the noise is measured on.
    let alloyed = Trajectory::new(
        backend,
        &uniform_in(&made.mask, mean_au_fraction)?,
        &made.mask,
        config.beta,
    )?;
    let seed = time_seed(config.seed, config.times_s.len());
    let volume = imager.reconstruct(&alloyed, config.dose, seed)?;
    write_volume(&staged.path(ALLOYED_NAME), &volume, Overwrite::Refuse)?;
    let experiment = Experiment {
        particle: ParticleSection {
            name: config.phantom.clone(),
            voxel_nm: config.voxel_nm,
            mean_au_fraction,
        },
        data: DataSection {
            times_s: config.times_s.clone(),
            reconstructions: Some(files),
            tilt_series: None,
            curve: None,
            noise_reconstruction: Some(PathBuf::from(ALLOYED_NAME)),
            mask: None,
            reshaped_mask: None,
            erosion_voxels: 0,
            initial_state: InitialState::default(),
            start_mask: StartMask::default(),
            start_level: 1.0,
            start_smoothing_voxels: START_MASK_SMOOTHING_VOXELS,
        },
        imaging: ImagingSection {
            contrast_ratio: config.imaging.contrast_ratio,
            blur_sigma_nm: Some(config.imaging.blur_sigma_nm),
            tilts: config.tilts.clone(),
            // A tight box was imaged on the phantom grid's detector.
            detector_pixels: config
                .imaging
                .detector_pixels
                .or(config.fov_voxels.map(|_| phantom.mask.shape()[2])),
            sirt_iterations: config.imaging.sirt_iterations,
            dose: DoseSetting::Named(crate::experiment::NamedDose::Auto),
        },
        fit: FitSection {
            // Fit with a noise field other than the one that made the data.
            seed: config.seed.wrapping_add(1),
            beta: config.beta,
            ..FitSection::default()
        },
    };
    let text = format!(
        "# Synthetic experiment made by alloyfit {}: `{}`\n# truth.json holds the true D.\n{}",
        env!("CARGO_PKG_VERSION"),
        command_line(config),
        toml::to_string_pretty(&experiment)?
    );
    write_bytes_atomically(
        &staged.path("experiment.toml"),
        Overwrite::Refuse,
        text.as_bytes(),
    )?;
    let truth = Truth {
        config: config.clone(),
        mean_au_fraction,
        mask_voxels: phantom.mask.count(),
        shape: match config.fov_voxels {
            Some(fov) => [phantom.mask.shape()[0], fov, fov],
            None => phantom.mask.shape(),
        },
        alloyfit_version: env!("CARGO_PKG_VERSION"),
    };
    write_atomically(&staged.path("truth.json"), Overwrite::Refuse, |out| {
        serde_json::to_writer_pretty(&mut *out, &truth)?;
        writeln!(out)?;
        Ok(())
    })?;
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binning averages the `factor` × `factor` fine pixels of an output pixel and converts fine
    /// voxel lengths to output ones: a fine series of 2 (two fine voxels of intensity 1) is one
    /// output voxel, 1.
    #[test]
    fn binning_averages_the_pixels_and_counts_output_voxels() {
        let fine = Array3::from_shape_fn([2, 4, 6], |(a, k, m)| (a * 100 + k * 10 + m) as f32);
        let binned = bin_series(&fine, 2);
        assert_eq!(binned.shape(), [2, 2, 3]);
        // Output pixel (1, 1, 2) holds fine pixels k = 2, 3 and m = 4, 5 of angle 1.
        let mean = (124.0 + 125.0 + 134.0 + 135.0) / 4.0;
        assert_eq!(binned[[1, 1, 2]], mean / 2.0);
        let uniform = bin_series(&Array3::from_elem([1, 4, 4], 2.0), 2);
        assert!(uniform.iter().all(|&v| v == 1.0));
    }
}
