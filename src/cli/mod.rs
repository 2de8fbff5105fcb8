//! Command-line interface: one module per subcommand. Each turns its clap arguments into library
//! calls and prints for a person, or JSON with `--json`.

mod devices;
mod info;
mod phantom;
mod project;
mod reconstruct;
mod simulate;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use alloyfit::backend::{DeviceChoice, DeviceRequest};
use alloyfit::io::Overwrite;
use alloyfit::io::tilts::{parse_tilt_spec, read_tilt_file};

#[derive(Debug, Parser)]
#[command(
    name = "alloyfit",
    version,
    about = "Measure Au/Ag interdiffusion in single nanoparticles from in-situ electron tomography"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a volume file's shape, sample type, voxel size and value range.
    Info(info::Args),
    /// Make a synthetic core-shell particle: Au-fraction volume and mask.
    Phantom(phantom::Args),
    /// Diffuse an initial composition with a given D; one volume per time and a CSV.
    Simulate(simulate::Args),
    /// Project a volume into a tilt series (optionally with Poisson noise).
    Project(project::Args),
    /// Reconstruct a volume from a tilt series with SIRT.
    Reconstruct(reconstruct::Args),
    /// List the GPU adapters alloyfit can use, with the limits that matter.
    Devices(devices::Args),
}

/// `--device` and `--adapter`, shared by every subcommand that runs kernels.
#[derive(Debug, clap::Args)]
pub struct DeviceArgs {
    /// Where kernels run: auto picks a hardware GPU if there is one, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
    /// Use the adapter whose name contains this text (see `alloyfit devices`).
    #[arg(long)]
    adapter: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeviceArg {
    Auto,
    Gpu,
    Cpu,
}

impl DeviceArgs {
    pub fn request(&self) -> DeviceRequest {
        DeviceRequest {
            choice: match self.device {
                DeviceArg::Auto => DeviceChoice::Auto,
                DeviceArg::Gpu => DeviceChoice::Gpu,
                DeviceArg::Cpu => DeviceChoice::Cpu,
            },
            adapter: self.adapter.clone(),
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Phantom(args) => phantom::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Project(args) => project::run(&args),
        Command::Reconstruct(args) => reconstruct::run(&args),
        Command::Devices(args) => devices::run(&args),
    }
}

/// `--tilts`: a file with one angle per line, or a spec `start:stop:step` / `a,b,c` (degrees).
#[derive(Debug, clap::Args)]
pub struct TiltArgs {
    /// Tilt angles: a file (IMOD .tlt/.rawtlt) or start:stop:step or a,b,c in degrees.
    #[arg(long, default_value = "-70:70:2", allow_hyphen_values = true)]
    tilts: String,
}

impl TiltArgs {
    pub fn angles(&self) -> Result<Vec<f64>> {
        let path = std::path::Path::new(&self.tilts);
        if path.is_file() {
            read_tilt_file(path)
        } else {
            parse_tilt_spec(&self.tilts).context("--tilts (neither a file nor an angle spec)")
        }
    }
}

/// `--force` as the library's overwrite policy.
pub fn overwrite_policy(force: bool) -> Overwrite {
    if force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
