//! Synthetic experiments (`alloyfit synth`), made as a microscope would make them: a phantom
//! diffuses with the true D, and at each time it is imaged through the chain with exact Poisson
//! noise. The folder gets one reconstruction per time and one of the particle fully alloyed (to
//! measure the noise on, as an experiment ends), the experiment file that `quantify` and
//! `fit` read, and truth.json with everything that made it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, ensure};
use serde::Serialize;

use crate::analysis::uniform_in;
use crate::backend::Backend;
use crate::diffusion::{Trajectory, tau_nm2};
use crate::experiment::{
    DataSection, DoseSetting, Experiment, FitSection, ImagingSection, InitialState,
    ParticleSection, StartMask,
};
use crate::imaging::quantify::START_MASK_SMOOTHING_VOXELS;
use crate::imaging::{AnalysisRegion, ImagingChain, ImagingParams, Noise};
use crate::io::{Overwrite, StagedDir, write_atomically, write_bytes_atomically, write_volume};
use crate::phantom::{PhantomOptions, find_particle, voxelize};
use crate::progress::Progress;

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
        "alloyfit synth --phantom {} --d {:e} --voxel-nm {} --seed {} --dose {} --iterations {} --blur-nm {} --contrast {} --tilts={} --times {}",
        config.phantom,
        config.d_m2s,
        config.voxel_nm,
        config.seed,
        config.dose,
        config.imaging.sirt_iterations,
        config.imaging.blur_sigma_nm,
        config.imaging.contrast_ratio,
        config.tilts,
        times.join(",")
    )
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
    let particle = find_particle(&config.phantom)?;
    let phantom = voxelize(
        &particle,
        &PhantomOptions {
            voxel_nm: config.voxel_nm,
            ..PhantomOptions::default()
        },
    )?;
    let mean_au_fraction = Backend::Cpu
        .masked_moments(&phantom.composition, &phantom.mask)?
        .mean();
    let mut chain = ImagingChain::new(
        backend,
        &config.imaging,
        &AnalysisRegion::new(&phantom.mask)?,
    )?;
    chain.check_detector_holds(&phantom.mask)?;
    let mut trajectory =
        Trajectory::new(backend, &phantom.composition, &phantom.mask, config.beta)?;
    let mut files = Vec::with_capacity(config.times_s.len());
    for (index, &t_s) in config.times_s.iter().enumerate() {
        trajectory.advance_to(tau_nm2(config.d_m2s, t_s))?;
        let noise = Noise::Poisson {
            dose: config.dose,
            seed: time_seed(config.seed, index),
        };
        let imaged = chain.image(&trajectory, noise, true)?;
        let name = reconstruction_name(index, t_s);
        let volume = imaged.reconstruction.expect("asked for the reconstruction");
        write_volume(&staged.path(&name), &volume, Overwrite::Refuse)?;
        files.push(PathBuf::from(name));
        progress.step("imaging", index + 1, config.times_s.len());
    }
    // The particle annealed to the end, imaged as the others: what the noise is measured on.
    let alloyed = Trajectory::new(
        backend,
        &uniform_in(&phantom.mask, mean_au_fraction)?,
        &phantom.mask,
        config.beta,
    )?;
    let noise = Noise::Poisson {
        dose: config.dose,
        seed: time_seed(config.seed, config.times_s.len()),
    };
    let imaged = chain.image(&alloyed, noise, true)?;
    write_volume(
        &staged.path(ALLOYED_NAME),
        &imaged.reconstruction.expect("asked for the reconstruction"),
        Overwrite::Refuse,
    )?;
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
            initial_state: InitialState::TwoPhase,
            start_mask: StartMask::default(),
            start_level: 1.0,
            start_smoothing_voxels: START_MASK_SMOOTHING_VOXELS,
        },
        imaging: ImagingSection {
            contrast_ratio: config.imaging.contrast_ratio,
            blur_sigma_nm: Some(config.imaging.blur_sigma_nm),
            tilts: config.tilts.clone(),
            detector_pixels: config.imaging.detector_pixels,
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
        shape: phantom.mask.shape(),
        alloyfit_version: env!("CARGO_PKG_VERSION"),
    };
    write_atomically(&staged.path("truth.json"), Overwrite::Refuse, |out| {
        serde_json::to_writer_pretty(&mut *out, &truth)?;
        writeln!(out)?;
        Ok(())
    })?;
    Ok(truth)
}
