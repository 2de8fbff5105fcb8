//! `alloyfit phantom NAME --voxel-nm H --out FILE`: voxelise a named or custom particle, write the
//! Au-fraction volume and its mask, and print what was achieved beside the targets.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde::Serialize;

use alloyfit::backend::Engine;
use alloyfit::io::{check_writable, write_volume};
use alloyfit::phantom::shapes::shape_usage;
use alloyfit::phantom::{
    Achieved, LongAxis, Particle, PhantomOptions, Shape, find_particle, named_particles, voxelize,
};

use super::{DeviceArgs, Reporter};

#[derive(Debug, clap::Args)]
#[command(after_help = format!(
    "Shapes for --shell/--core (lengths in nm, long axis along z): {}",
    shape_usage()
))]
pub struct Args {
    /// A named particle (NC1, NC2, NR1-NR4, cube45, cube60, cube75, small-rod) or `custom`.
    #[arg(required_unless_present = "list")]
    particle: Option<String>,
    /// List the named particles and exit.
    #[arg(long)]
    list: bool,
    /// Ag shell of a custom particle, e.g. `cube:edge=50`.
    #[arg(long)]
    shell: Option<String>,
    /// Au core of a custom particle, e.g. `sphere:diameter=30`.
    #[arg(long)]
    core: Option<String>,
    /// Voxel size in nm.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    voxel_nm: f64,
    /// Empty voxels between the particle and the grid's sides in every tilted view.
    #[arg(long, default_value_t = PhantomOptions::default().pad_voxels)]
    pad_voxels: usize,
    /// Grid axis along the particle's long axis (k is the tilt axis).
    #[arg(long, value_enum, default_value_t = AxisArg::K)]
    long_axis: AxisArg,
    /// Output Au-fraction volume (.tif or .mrc).
    #[arg(long, required_unless_present = "list")]
    out: Option<PathBuf>,
    /// Output mask; default: the --out name with `_mask` before the extension.
    #[arg(long)]
    mask_out: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    device: DeviceArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// docs/METHOD.md §5: a phantom must land within ±2% of its target volume and Au fraction.
const TARGET_TOLERANCE_PERCENT: f64 = 2.0;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AxisArg {
    K,
    I,
    J,
}

#[derive(Serialize)]
struct Report<'a> {
    particle: &'a str,
    shell: String,
    core: String,
    voxel_nm: f64,
    shape: [usize; 3],
    achieved: Achieved,
    target_volume_nm3: f64,
    target_au_fraction: f64,
    composition_file: &'a Path,
    mask_file: &'a Path,
    device: String,
}

fn particle_from(args: &Args, name: &str) -> Result<Particle> {
    if !name.eq_ignore_ascii_case("custom") {
        if args.shell.is_some() || args.core.is_some() {
            bail!(
                "--shell and --core build a custom particle; use them with `alloyfit phantom custom`"
            );
        }
        return find_particle(name);
    }
    let (Some(shell), Some(core)) = (&args.shell, &args.core) else {
        bail!(
            "a custom particle needs --shell and --core, e.g. --shell cube:edge=50 --core sphere:diameter=30"
        );
    };
    let shell = Shape::parse(shell).context("--shell")?;
    let core = Shape::parse(core).context("--core")?;
    Ok(Particle::custom(shell, core))
}

fn default_mask_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    let name = match out.extension() {
        Some(ext) => format!("{stem}_mask.{}", ext.to_string_lossy()),
        None => format!("{stem}_mask"),
    };
    out.with_file_name(name)
}

fn print_list() {
    println!(
        "{:<10} {:>12} {:>7}  shell / core",
        "name", "volume nm³", "Au %"
    );
    for p in named_particles() {
        println!(
            "{:<10} {:>12.0} {:>7.1}  {} / {}",
            p.name,
            p.target_volume_nm3,
            100.0 * p.target_au_fraction,
            p.shell,
            p.core
        );
    }
}

pub fn run(args: &Args) -> Result<()> {
    if args.list {
        print_list();
        return Ok(());
    }
    let (Some(name), Some(out)) = (&args.particle, &args.out) else {
        bail!("give a particle name and --out");
    };
    let particle = particle_from(args, name)?;
    let mask_out = args
        .mask_out
        .clone()
        .unwrap_or_else(|| default_mask_path(out));
    if mask_out == *out {
        bail!("--mask-out and --out are the same file {}", out.display());
    }
    let overwrite = super::overwrite_policy(args.force);
    // Refuse before the work, not after it.
    check_writable(out, overwrite)?;
    check_writable(&mask_out, overwrite)?;

    let options = PhantomOptions {
        voxel_nm: args.voxel_nm,
        pad_voxels: args.pad_voxels,
        long_axis: match args.long_axis {
            AxisArg::K => LongAxis::K,
            AxisArg::I => LongAxis::I,
            AxisArg::J => LongAxis::J,
        },
    };
    let phantom = voxelize(&particle, &options)?;
    let mut reporter = Reporter::new(false);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    let achieved = engine.run(&mut reporter, |backend, _| phantom.achieved(backend))?;
    write_volume(out, &phantom.composition, overwrite)?;
    write_volume(&mask_out, &phantom.mask.to_volume(), overwrite)?;

    let report = Report {
        particle: &particle.name,
        shell: particle.shell.to_string(),
        core: particle.core.to_string(),
        voxel_nm: args.voxel_nm,
        shape: phantom.composition.shape(),
        achieved,
        target_volume_nm3: particle.target_volume_nm3,
        target_au_fraction: particle.target_au_fraction,
        composition_file: out,
        mask_file: &mask_out,
        device: engine.backend().describe(),
    };
    if args.json {
        return super::print_json(&report);
    }
    let deviation = |achieved: f64, target: f64| 100.0 * (achieved / target - 1.0);
    let [k, i, j] = report.shape;
    println!(
        "{} at {} nm: grid {k} x {i} x {j} (k, i, j), {}",
        report.particle, report.voxel_nm, report.device
    );
    println!(
        "  volume       {:>9.0} nm³   target {:>9.0} nm³  ({:+.2}%)",
        achieved.volume_nm3,
        report.target_volume_nm3,
        deviation(achieved.volume_nm3, report.target_volume_nm3)
    );
    println!(
        "  Au fraction  {:>9.2} %     target {:>9.2} %    ({:+.2}%)",
        100.0 * achieved.au_fraction,
        100.0 * report.target_au_fraction,
        deviation(achieved.au_fraction, report.target_au_fraction)
    );
    let worst = deviation(achieved.volume_nm3, report.target_volume_nm3)
        .abs()
        .max(deviation(achieved.au_fraction, report.target_au_fraction).abs());
    if worst > TARGET_TOLERANCE_PERCENT {
        eprintln!(
            "warning: the phantom misses its targets by more than {TARGET_TOLERANCE_PERCENT}%; {} nm voxels are too coarse for it, try --voxel-nm {}",
            report.voxel_nm,
            report.voxel_nm / 2.0
        );
    }
    println!(
        "wrote {} (Au fraction) and {} (mask)",
        out.display(),
        mask_out.display()
    );
    Ok(())
}
