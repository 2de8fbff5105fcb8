//! Command-line interface: one module per subcommand. Each turns its clap arguments into library
//! calls and prints for a person, or JSON with `--json`.

mod devices;
mod info;
mod phantom;
mod simulate;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use alloyfit::backend::{DeviceChoice, DeviceRequest};
use alloyfit::io::Overwrite;

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
        Command::Devices(args) => devices::run(&args),
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
