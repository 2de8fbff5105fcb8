//! `alloyfit synth`: a complete synthetic experiment with a known D (see `alloyfit::synth`).

use std::path::PathBuf;
use std::time::Instant;

use alloyfit::progress::Progress;
use anyhow::Result;

use alloyfit::backend::Engine;
use alloyfit::diffusion::BETA_DEFAULT;
use alloyfit::experiment::DEFAULT_TIMES_S;
use alloyfit::imaging::{CONTRAST_RATIO_DEFAULT, ImagingParams};
use alloyfit::io::StagedDir;
use alloyfit::synth::{SynthConfig, synthesize};

use super::{DeviceArgs, Reporter, TiltArgs, parse_times};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A named particle (`alloyfit phantom --list`).
    #[arg(long)]
    phantom: String,
    /// True interdiffusion coefficient D in m²/s (1e-19 m²/s = 0.1 nm²/s).
    #[arg(long = "d", value_name = "M2_PER_S")]
    d_m2s: f64,
    #[arg(long, default_value_t = 1.0)]
    voxel_nm: f64,
    /// Make the particle on a grid this many times as fine (voxelised, diffused, blurred and
    /// projected there; the projections binned to the detector pixel), so that the data do not
    /// share the fit's grid. 1: on the output grid, through the fit's own chain.
    #[arg(long, default_value_t = 2)]
    oversample: usize,
    /// Reconstruct on slices this many voxels square (centred), from a detector as wide as the
    /// phantom's grid: a field of view narrower than the particle's widest projection.
    #[arg(long, value_name = "VOXELS")]
    fov: Option<usize>,
    /// Move the particle's surfaces off the ideal shapes by up to this many nm (smooth random
    /// bulges, bevels and rounded corners, drawn from --seed): a particle that is none of the
    /// listed shapes.
    #[arg(long, value_name = "NM")]
    shape_jitter: Option<f64>,
    /// Seed of the Poisson noise (each time point draws its own streams from it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Counts per unit projected intensity (a voxel length of Ag gives this many counts).
    #[arg(long, default_value_t = 100.0)]
    dose: f64,
    /// Heating times in s, comma-separated and increasing, starting at 0.
    #[arg(long)]
    times: Option<String>,
    #[command(flatten)]
    tilts: TiltArgs,
    /// Gaussian blur sigma in nm (default: one voxel).
    #[arg(long)]
    blur_nm: Option<f64>,
    /// r = I_Au/I_Ag.
    #[arg(long, default_value_t = CONTRAST_RATIO_DEFAULT)]
    contrast: f64,
    /// SIRT iterations per reconstruction.
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// Output folder: reconstructions, experiment.toml, truth.json.
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing, non-empty output folder.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    device: DeviceArgs,
    /// Print truth.json on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let times_s = match &args.times {
        Some(text) => parse_times(text)?,
        None => DEFAULT_TIMES_S.to_vec(),
    };
    let config = SynthConfig {
        phantom: args.phantom.clone(),
        d_m2s: args.d_m2s,
        voxel_nm: args.voxel_nm,
        times_s,
        dose: args.dose,
        seed: args.seed,
        tilts: args.tilts.spec().to_owned(),
        imaging: ImagingParams {
            contrast_ratio: args.contrast,
            blur_sigma_nm: args.blur_nm.unwrap_or(args.voxel_nm),
            tilt_angles_deg: args.tilts.angles()?,
            detector_pixels: None,
            sirt_iterations: args.iterations,
            noise_seed: args.seed,
        },
        beta: BETA_DEFAULT,
        oversample: args.oversample,
        fov_voxels: args.fov,
        shape_jitter_nm: args.shape_jitter,
    };
    let overwrite = super::overwrite_policy(args.force);
    let started = Instant::now();
    let mut reporter = Reporter::new(false);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    // The staging folder lives inside the work, so a rerun on the CPU starts from an empty one.
    let (truth, staged) = engine.run(&mut reporter, |backend, reporter| {
        let staged = StagedDir::create(&args.out, overwrite)?;
        reporter.line(&format!("imaging on {}", backend.describe()));
        Ok((synthesize(backend, &config, &staged, reporter)?, staged))
    })?;
    drop(reporter);
    let out = staged.commit()?;
    if args.json {
        return super::print_json(&truth);
    }
    println!(
        "{}: D = {:e} m²/s, {} times, dose {}, seed {}: wrote {} in {:.1} s on {}",
        config.phantom,
        config.d_m2s,
        config.times_s.len(),
        config.dose,
        config.seed,
        out.join("experiment.toml").display(),
        started.elapsed().as_secs_f64(),
        engine.backend().describe()
    );
    Ok(())
}
