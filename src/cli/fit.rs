//! `alloyfit fit`: quantify an experiment, simulate, fit D ± SD, and write the report folder
//! ([`alloyfit::workflow::fit`]).

use std::path::PathBuf;

use anyhow::Result;

use alloyfit::backend::Engine;
use alloyfit::experiment::{FitMode, LoadedExperiment};
use alloyfit::fit::TABLE_POINTS_DEFAULT;
use alloyfit::io::StagedDir;
use alloyfit::progress::Progress;
use alloyfit::workflow::fit::fit_into;

use super::{DeviceArgs, Reporter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment description (TOML; see README).
    experiment: PathBuf,
    /// Report folder (default: `fit` beside the experiment file).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing, non-empty report folder.
    #[arg(long)]
    force: bool,
    /// Override the experiment's fit.mode.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Knots of the tau table (uniform in sqrt(tau)).
    #[arg(long, default_value_t = TABLE_POINTS_DEFAULT)]
    table_points: usize,
    #[command(flatten)]
    device: DeviceArgs,
    /// Print report.json on stdout instead of the summary line.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Table,
    Exact,
}

pub fn run(args: &Args) -> Result<()> {
    let mut loaded = LoadedExperiment::load(&args.experiment)?;
    if let Some(mode) = args.mode {
        loaded.experiment.fit.mode = match mode {
            ModeArg::Table => FitMode::Table,
            ModeArg::Exact => FitMode::Exact,
        };
    }
    let target = args.out.clone().unwrap_or_else(|| loaded.dir.join("fit"));
    let staged = StagedDir::create(&target, super::overwrite_policy(args.force))?;
    let mut reporter = Reporter::new(args.quiet);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    let report = engine.run(&mut reporter, |backend, reporter| {
        fit_into(&loaded, backend, args.table_points, &staged, reporter)
    })?;
    let out = staged.commit()?;
    reporter.line(&format!("wrote {}", out.display()));
    drop(reporter);
    if args.json {
        print!("{}", report.to_json()?);
    } else {
        println!("{}", report.summary_line(&report.particle));
    }
    Ok(())
}
