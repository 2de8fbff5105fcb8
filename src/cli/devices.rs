//! `alloyfit devices`: the adapters wgpu finds and the one `--device`/`--adapter` would pick.

use anyhow::Result;
use serde::Serialize;

use alloyfit::backend::Engine;
use alloyfit::backend::gpu::{AdapterSummary, list_adapters};

use super::{DeviceArgs, Reporter};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    device: DeviceArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    adapters: Vec<AdapterSummary>,
    selected: String,
}

pub fn run(args: &Args) -> Result<()> {
    let report = Report {
        adapters: list_adapters(),
        selected: Engine::open(&args.device.request(), &mut Reporter::new(false))?
            .backend()
            .describe(),
    };
    if args.json {
        return super::print_json(&report);
    }
    if report.adapters.is_empty() {
        println!("no GPU adapters found (for a software GPU: apt-get install mesa-vulkan-drivers)");
    }
    for a in &report.adapters {
        println!("{} [{} {}]", a.name, a.backend, a.device_type);
        println!("  driver            {} {}", a.driver, a.driver_info);
        println!(
            "  max buffer        {} MiB (storage binding {} MiB)",
            a.max_buffer_size >> 20,
            a.max_storage_buffer_binding_size >> 20
        );
        println!(
            "  max workgroups    {} per dimension, {} invocations each",
            a.max_compute_workgroups_per_dimension, a.max_compute_invocations_per_workgroup
        );
    }
    println!("selected: {}", report.selected);
    Ok(())
}
