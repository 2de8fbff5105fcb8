//! `alloyfit simulate`: diffuse an initial composition with a given D and write one volume per
//! time, plus a CSV ([`alloyfit::workflow::simulate`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::ValueEnum;
use serde::Serialize;

use alloyfit::backend::Engine;
use alloyfit::diffusion::{BETA_DEFAULT, check_beta, prepare_mask};
use alloyfit::io::{Format, StagedDir, check_folder_writable, mask_from_volume, read_volume};
use alloyfit::volume::Mask;
use alloyfit::workflow::simulate::{SimulateConfig, SimulatedTime, simulate_into};

use super::{DeviceArgs, Reporter, parse_times};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Initial Au fraction per voxel (e.g. from `alloyfit phantom`).
    #[arg(long)]
    input: PathBuf,
    /// Particle mask (non-zero = inside); default: the input's `_mask` sibling if it exists.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// A mask that replaces the particle mask before the run; new voxels take the nearest value.
    #[arg(long)]
    reshaped_mask: Option<PathBuf>,
    /// Interdiffusion coefficient D in m²/s (1e-19 m²/s = 0.1 nm²/s).
    #[arg(long = "d", value_name = "M2_PER_S", allow_hyphen_values = true)]
    d_m2s: f64,
    /// Times in s, comma-separated and increasing.
    #[arg(long, default_value = "0,15,30,45,60,90,120,180,300,600")]
    times: String,
    /// Δτ/h² per step: at most 1/6 (stability and the maximum principle).
    #[arg(long, default_value_t = BETA_DEFAULT)]
    beta: f64,
    /// Voxel size in nm, if the input file stores none (or to override it).
    #[arg(long)]
    voxel_nm: Option<f64>,
    /// Output folder: one volume per time and simulation.csv.
    #[arg(long)]
    out: PathBuf,
    /// File format of the volumes written.
    #[arg(long, value_enum, default_value_t = FormatArg::Tif)]
    format: FormatArg,
    /// Replace an existing, non-empty output folder.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    device: DeviceArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Tif,
    Mrc,
}

#[derive(Serialize)]
struct Report {
    out: PathBuf,
    device: String,
    voxels: usize,
    dropped_voxels: usize,
    steps: u64,
    seconds: f64,
    rows: Vec<SimulatedTime>,
}

fn read_mask(path: &Path, voxel_nm: Option<f64>) -> Result<Mask> {
    mask_from_volume(&read_volume(path)?.into_volume(path, voxel_nm)?, path)
}

fn sibling_mask(input: &Path) -> Option<PathBuf> {
    let stem = input.file_stem()?.to_string_lossy();
    let ext = input.extension()?.to_string_lossy();
    let candidate = input.with_file_name(format!("{stem}_mask.{ext}"));
    candidate.exists().then_some(candidate)
}

pub fn run(args: &Args) -> Result<()> {
    ensure!(
        args.d_m2s.is_finite() && args.d_m2s > 0.0,
        "--d must be a positive diffusion coefficient in m²/s, got {}",
        args.d_m2s
    );
    check_beta(args.beta).context("--beta")?;
    let times = parse_times(&args.times)?;
    let overwrite = super::overwrite_policy(args.force);
    check_folder_writable(&args.out, overwrite)?;

    let composition = read_volume(&args.input)?.into_volume(&args.input, args.voxel_nm)?;
    let mask_path = match (&args.mask, sibling_mask(&args.input)) {
        (Some(path), _) => path.clone(),
        (None, Some(path)) => {
            eprintln!("using mask {}", path.display());
            path
        }
        (None, None) => bail!(
            "{}: no mask given and no {}_mask file beside it; pass --mask",
            args.input.display(),
            args.input.file_stem().unwrap_or_default().to_string_lossy()
        ),
    };
    let voxel_nm = Some(composition.voxel_nm());
    let mask = read_mask(&mask_path, voxel_nm)?;
    let reshaped = match &args.reshaped_mask {
        Some(path) => Some(read_mask(path, voxel_nm)?),
        None => None,
    };
    let prepared = prepare_mask(&composition, &mask, reshaped.as_ref())
        .with_context(|| format!("{} with mask {}", args.input.display(), mask_path.display()))?;
    if prepared.dropped_voxels > 0 {
        eprintln!(
            "warning: {} mask voxels lie outside the largest connected component and do not diffuse",
            prepared.dropped_voxels
        );
    }

    let format = match args.format {
        FormatArg::Tif => Format::Tiff,
        FormatArg::Mrc => Format::Mrc,
    };
    let config = SimulateConfig {
        d_m2s: args.d_m2s,
        times_s: &times,
        beta: args.beta,
        format,
    };
    let started = Instant::now();
    let mut reporter = Reporter::new(false);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    // The staging folder lives inside the work, so a rerun on the CPU after a GPU fault starts
    // from an empty one.
    let (staged, rows, steps) = engine.run(&mut reporter, |backend, reporter| {
        let staged = StagedDir::create(&args.out, overwrite)?;
        let (rows, steps) = simulate_into(&prepared, &config, backend, &staged, reporter)
            .with_context(|| format!("{}", args.input.display()))?;
        Ok((staged, rows, steps))
    })?;
    drop(reporter);
    let out = staged.commit()?;

    let report = Report {
        out,
        device: engine.backend().describe(),
        voxels: prepared.mask.count(),
        dropped_voxels: prepared.dropped_voxels,
        steps,
        seconds: started.elapsed().as_secs_f64(),
        rows,
    };
    if args.json {
        return super::print_json(&report);
    }
    println!(
        "{:>8} {:>10} {:>14} {:>9}",
        "t (s)", "tau (nm²)", "Au (nm³)", "alloying"
    );
    for r in &report.rows {
        println!(
            "{:>8} {:>10.3} {:>14.3} {:>9.4}",
            r.t_s, r.tau_nm2, r.total_au_nm3, r.alloying
        );
    }
    println!(
        "D = {:e} m²/s, {} voxels, {} steps in {:.2} s on {}; wrote {}",
        args.d_m2s,
        report.voxels,
        report.steps,
        report.seconds,
        report.device,
        report.out.display()
    );
    Ok(())
}
