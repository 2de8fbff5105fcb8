//! `alloyfit reconstruct SERIES --tilts FILE --iterations N --out VOLUME`: SIRT with ASTRA's options.

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};

use alloyfit::backend::Engine;
use alloyfit::io::{check_writable, mask_from_volume, read_volume, write_volume};
use alloyfit::progress::Progress;
use alloyfit::tomography::sirt::{SirtOptions, reconstruct_series};
use alloyfit::workflow::reconstruct::write_residual_norms;

use super::{DeviceArgs, Reporter, TiltArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tilt series (TIFF or MRC): one image per angle, rows along the tilt axis.
    series: PathBuf,
    #[command(flatten)]
    tilts: TiltArgs,
    /// SIRT iterations.
    #[arg(long, default_value_t = SirtOptions::default().iterations)]
    iterations: usize,
    /// Relaxation λ.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    relaxation: f32,
    /// Lower bound on voxel values ("none" for no bound).
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    min: String,
    /// Upper bound on voxel values ("none" for no bound).
    #[arg(long, default_value = "none", allow_hyphen_values = true)]
    max: String,
    /// Reconstruction mask (non-zero = reconstructed; 0 elsewhere).
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Write the residual norm ‖p − A x‖ of each iteration to this CSV.
    #[arg(long)]
    residuals: Option<PathBuf>,
    /// Output volume: square slices as wide as the detector.
    #[arg(long)]
    out: PathBuf,
    /// Voxel size in nm, if the series file stores none (or to override it).
    #[arg(long)]
    voxel_nm: Option<f64>,
    /// Replace existing outputs.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

fn bound(text: &str, name: &str) -> Result<Option<f32>> {
    if text == "none" {
        return Ok(None);
    }
    let value: f32 = text
        .parse()
        .with_context(|| format!("--{name} '{text}' is neither a number nor 'none'"))?;
    Ok(Some(value))
}

pub fn run(args: &Args) -> Result<()> {
    ensure!(
        args.iterations > 0,
        "--iterations must be at least 1, got {}",
        args.iterations
    );
    let overwrite = super::overwrite_policy(args.force);
    check_writable(&args.out, overwrite)?;
    if let Some(path) = &args.residuals {
        check_writable(path, overwrite)?;
    }
    let angles = args.tilts.angles()?;
    let file = read_volume(&args.series)?;
    let series = file.data;
    let voxel_nm = args.voxel_nm.or(file.voxel_nm).with_context(|| {
        format!(
            "{}: the file stores no pixel size; pass --voxel-nm",
            args.series.display()
        )
    })?;
    let [n_k, n_det] = [series.shape()[1], series.shape()[2]];
    let shape = [n_k, n_det, n_det];
    let mask = match &args.mask {
        Some(path) => {
            let volume = read_volume(path)?.into_volume(path, Some(voxel_nm))?;
            ensure!(
                volume.shape() == shape,
                "{}: mask shape {:?} does not match the reconstruction {shape:?}",
                path.display(),
                volume.shape()
            );
            Some(mask_from_volume(&volume, path)?)
        }
        None => None,
    };
    let options = SirtOptions {
        iterations: args.iterations,
        relaxation: args.relaxation,
        min_value: bound(&args.min, "min")?,
        max_value: bound(&args.max, "max")?,
        mask,
        record_residuals: args.residuals.is_some(),
    };
    let mut reporter = Reporter::new(false);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    let result = engine
        .run(&mut reporter, |backend, reporter| {
            reporter.line(&format!("SIRT on {}", backend.describe()));
            reconstruct_series(backend, &series, &angles, voxel_nm, &options, &mut |n| {
                reporter.step("SIRT iterations", n, args.iterations)
            })
        })
        .with_context(|| format!("{}", args.series.display()))?;
    write_volume(&args.out, &result.volume, overwrite)?;
    if let Some(path) = &args.residuals {
        write_residual_norms(path, &result.residual_norms, overwrite)?;
    }
    println!(
        "wrote {} ({n_k} x {n_det} x {n_det}, {} SIRT iterations on {})",
        args.out.display(),
        args.iterations,
        engine.backend().describe()
    );
    Ok(())
}
