//! `alloyfit batch`: fit every experiment of a manifest (or of this task's shard) into its own
//! results folder, resumably; and `alloyfit summarize`: the results as one table.

use std::path::PathBuf;

use anyhow::Result;

use alloyfit::backend::Engine;
use alloyfit::fit::TABLE_POINTS_DEFAULT;
use alloyfit::io::{Overwrite, write_bytes_atomically};
use alloyfit::workflow::batch::{
    BatchOptions, Manifest, Shard, run_batch, summarize, to_csv, to_markdown,
};

use super::{DeviceArgs, Reporter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest (TOML; see README "Running on a cluster").
    manifest: PathBuf,
    /// Results folder: one folder per experiment, plus batch.json.
    #[arg(long)]
    out: PathBuf,
    /// Fit again experiments that are already done.
    #[arg(long)]
    force: bool,
    /// Fit only shard I of N (0-based): the entries at positions I, I+N, … of the manifest.
    /// Default: the Slurm array task's shard when run in an array job, else everything.
    #[arg(long)]
    shard: Option<String>,
    /// Knots of the tau table (uniform in sqrt(tau)).
    #[arg(long, default_value_t = TABLE_POINTS_DEFAULT)]
    table_points: usize,
    #[command(flatten)]
    device: DeviceArgs,
    /// Only the summary lines, no progress.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let manifest = Manifest::load(&args.manifest)?;
    let shard = match &args.shard {
        Some(text) => Shard::parse(text)?,
        None => Shard::from_slurm(|name| std::env::var(name).ok())?.unwrap_or(Shard::WHOLE),
    };
    let mut reporter = Reporter::new(args.quiet);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    let options = BatchOptions {
        manifest: &manifest,
        shard,
        out: &args.out,
        force: args.force,
        table_points: args.table_points,
    };
    run_batch(&options, &mut engine, &mut reporter, &mut |line| {
        println!("{line}")
    })?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct SummarizeArgs {
    /// A results folder written by `alloyfit batch` (or any folder of `fit` report folders).
    results: PathBuf,
}

/// Writes summary.csv and summary.md into the results folder and prints the Markdown.
pub fn summarize_run(args: &SummarizeArgs) -> Result<()> {
    let rows = summarize(&args.results)?;
    let markdown = to_markdown(&rows);
    write_bytes_atomically(
        &args.results.join("summary.csv"),
        Overwrite::Allow,
        to_csv(&rows)?.as_bytes(),
    )?;
    write_bytes_atomically(
        &args.results.join("summary.md"),
        Overwrite::Allow,
        markdown.as_bytes(),
    )?;
    print!("{markdown}");
    Ok(())
}
