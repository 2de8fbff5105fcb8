//! `alloyfit project VOLUME --tilts SPEC --out SERIES`: the tilt series of a volume (one projection
//! image per angle), optionally with Poisson noise, and the angles beside it as an IMOD .tlt file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use alloyfit::Volume;
use alloyfit::backend::Engine;
use alloyfit::io::{check_writable, read_volume, write_atomically, write_volume};
use alloyfit::progress::Progress;
use alloyfit::tomography::TiltGeometry;
use alloyfit::tomography::noise::add_poisson_noise;

use super::{DeviceArgs, Reporter, TiltArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The volume to project (TIFF or MRC).
    volume: PathBuf,
    #[command(flatten)]
    tilts: TiltArgs,
    /// Output tilt series (TIFF or MRC): one image per angle, rows along the tilt axis.
    #[arg(long)]
    out: PathBuf,
    /// Detector pixels; default: the volume's slice width.
    #[arg(long)]
    n_det: Option<usize>,
    /// Poisson noise: counts per unit projected intensity (none if not given).
    #[arg(long, allow_hyphen_values = true)]
    dose: Option<f64>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Voxel size in nm, if the volume file stores none (or to override it).
    #[arg(long)]
    voxel_nm: Option<f64>,
    /// Replace existing outputs.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn run(args: &Args) -> Result<()> {
    let overwrite = super::overwrite_policy(args.force);
    let tilt_file = args.out.with_extension("tlt");
    check_writable(&args.out, overwrite)?;
    check_writable(&tilt_file, overwrite)?;
    let angles = args.tilts.angles()?;
    let volume = read_volume(&args.volume)?.into_volume(&args.volume, args.voxel_nm)?;
    let shape = volume.shape();
    let geometry = TiltGeometry::new(angles.clone(), args.n_det.unwrap_or(shape[2]), 1.0)?;
    let mut reporter = Reporter::new(false);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    let mut series = engine.run(&mut reporter, |backend, reporter| {
        reporter.line(&format!(
            "projecting {} x {} x {} voxels at {} angles on {}",
            shape[0],
            shape[1],
            shape[2],
            angles.len(),
            backend.describe()
        ));
        alloyfit::tomography::forward_project(backend, &volume, &geometry)
            .with_context(|| format!("{}", args.volume.display()))
    })?;
    if let Some(dose) = args.dose {
        add_poisson_noise(&mut series, dose, args.seed).context("--dose")?;
    }
    write_volume(
        &args.out,
        &Volume::new(series, volume.voxel_nm())?,
        overwrite,
    )?;
    write_atomically(&tilt_file, overwrite, |out| {
        for angle in &angles {
            writeln!(out, "{angle}")?;
        }
        Ok(())
    })?;
    let noise = match args.dose {
        Some(dose) => format!(", Poisson noise at dose {dose} (seed {})", args.seed),
        None => String::new(),
    };
    println!(
        "wrote {} ({} projections of {} x {}{noise}) and {} on {}",
        args.out.display(),
        angles.len(),
        shape[0],
        geometry.n_det(),
        tilt_file.display(),
        engine.backend().describe()
    );
    Ok(())
}
