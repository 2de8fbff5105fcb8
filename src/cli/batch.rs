//! `alloyfit batch`: fit every experiment of a manifest (or of this task's shard) into its own
//! results folder, resumably; and `alloyfit summarize`: the results as one table.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use alloyfit::backend::Engine;
use alloyfit::backend::gpu::find_fault;
use alloyfit::batch::{
    BATCH_FILE, BatchFile, ERROR_FILE, Manifest, REPORT_FILE, Shard, summarize, to_csv, to_markdown,
};
use alloyfit::fit::TABLE_POINTS_DEFAULT;
use alloyfit::io::{Overwrite, StagedDir, remove_abandoned_staging, write_bytes_atomically};
use alloyfit::progress::Progress;

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

/// Some experiments failed; the exit status says so (3) after the others have run.
#[derive(Debug, thiserror::Error)]
#[error(
    "{failed} of {attempted} experiments failed; their errors are in RESULTS/<name>/{ERROR_FILE}"
)]
pub struct SomeFailed {
    pub failed: usize,
    pub attempted: usize,
}

/// The failure of `name`, kept in its results folder (staged, like a report).
fn record_failure(target: &Path, error: &anyhow::Error) -> Result<()> {
    let staged = StagedDir::create(target, Overwrite::Allow)?;
    write_bytes_atomically(
        &staged.path(ERROR_FILE),
        Overwrite::Refuse,
        format!("{error:#}\n").as_bytes(),
    )?;
    staged.commit()?;
    Ok(())
}

pub fn run(args: &Args) -> Result<()> {
    let manifest = Manifest::load(&args.manifest)?;
    let shard = match &args.shard {
        Some(text) => Shard::parse(text)?,
        None => Shard::from_slurm(|name| std::env::var(name).ok())?.unwrap_or(Shard::WHOLE),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the results folder", args.out.display()))?;
    let batch = BatchFile {
        manifest: std::path::absolute(&manifest.path).unwrap_or(manifest.path.clone()),
        experiments: manifest.entries.iter().map(|e| e.name.clone()).collect(),
    };
    write_bytes_atomically(
        &args.out.join(BATCH_FILE),
        Overwrite::Allow,
        (serde_json::to_string_pretty(&batch)? + "\n").as_bytes(),
    )?;
    let mut engine = Engine::open(&args.device.request(), &mut Reporter::new(args.quiet))?;
    let mine: Vec<_> = manifest
        .entries
        .iter()
        .enumerate()
        .filter(|(position, _)| shard.owns(*position))
        .map(|(_, entry)| entry)
        .collect();
    println!(
        "batch: shard {shard} has {} of {} experiments; on {}",
        mine.len(),
        manifest.entries.len(),
        engine.backend().describe()
    );
    let (mut fitted, mut skipped, mut failed) = (0, 0, 0);
    for entry in mine {
        let target = args.out.join(&entry.name);
        if target.join(REPORT_FILE).is_file() && !args.force {
            println!("{}: done already, skipped", entry.name);
            skipped += 1;
            continue;
        }
        remove_abandoned_staging(&target)?;
        let mut reporter = Reporter::new(args.quiet);
        reporter.line(&format!(
            "{}: fitting {}",
            entry.name,
            entry.loaded.path.display()
        ));
        let result = StagedDir::create(&target, Overwrite::Allow).and_then(|staged| {
            let outcome = engine.run(&mut reporter, |backend, reporter| {
                super::fit::fit_into(&entry.loaded, backend, args.table_points, &staged, reporter)
            })?;
            staged.commit()?;
            Ok(outcome)
        });
        drop(reporter);
        match result {
            Ok(outcome) => {
                println!("{}", outcome.summary_line(&entry.name));
                fitted += 1;
            }
            Err(error) => {
                println!("{}: failed: {error:#}", entry.name);
                record_failure(&target, &error)?;
                failed += 1;
                if find_fault(&error).is_some() {
                    // Only under --device gpu: auto has moved to the CPU. The next fits would fail
                    // the same way.
                    return Err(error.context(format!(
                        "batch stopped after {} with the GPU failing; rerun with --device auto or cpu to go on",
                        entry.name
                    )));
                }
            }
        }
    }
    println!(
        "batch: shard {shard}: {fitted} fitted, {skipped} skipped (done already), {failed} failed"
    );
    if failed > 0 {
        return Err(SomeFailed {
            failed,
            attempted: fitted + failed,
        }
        .into());
    }
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
        to_csv(&rows).as_bytes(),
    )?;
    write_bytes_atomically(
        &args.results.join("summary.md"),
        Overwrite::Allow,
        markdown.as_bytes(),
    )?;
    print!("{markdown}");
    Ok(())
}
