//! `alloyfit quantify`: the measured alloying curve of an experiment
//! ([`alloyfit::workflow::quantify`]), with the noise estimate, the calibrated dose, and the
//! segmented masks for inspection.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use alloyfit::backend::Engine;
use alloyfit::experiment::LoadedExperiment;
use alloyfit::io::StagedDir;
use alloyfit::workflow::quantify::quantify_into;

use super::{DeviceArgs, Reporter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment description (TOML; see README).
    experiment: PathBuf,
    /// Output folder (default: `quantified` beside the experiment file).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing, non-empty output folder.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    device: DeviceArgs,
    /// Print quantify.json on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let loaded = LoadedExperiment::load(&args.experiment)?;
    let target = args
        .out
        .clone()
        .unwrap_or_else(|| loaded.dir.join("quantified"));
    let staged = StagedDir::create(&target, super::overwrite_policy(args.force))?;
    let mut reporter = Reporter::new(args.quiet);
    let mut engine = Engine::open(&args.device.request(), &mut reporter)?;
    let started = Instant::now();
    let quantification = engine.run(&mut reporter, |backend, reporter| {
        quantify_into(&loaded, backend, &staged, reporter)
    })?;
    drop(reporter);
    let q = &quantification;
    let out = staged.commit()?;
    if args.json {
        return super::print_json(q);
    }
    println!(
        "{:>8} {:>10} {:>10} {:>12}",
        "t (s)", "spread", "alpha", "alpha uncorr"
    );
    for (n, t_s) in q.times_s.iter().enumerate() {
        let spread = q.measured.as_ref().map_or(f64::NAN, |m| m[n].spread);
        let uncorrected = q.alpha_uncorrected.as_ref().map_or(f64::NAN, |a| a[n]);
        println!(
            "{t_s:>8} {spread:>10.4} {:>10.4} {uncorrected:>12.4}",
            q.alpha[n]
        );
    }
    if let Some(start) = &q.start_state {
        // As the experiment file writes it: initial_state = "matched".
        let rule = serde_json::to_string(&start.rule)?;
        let changed: Vec<String> = start
            .match_steps
            .iter()
            .map(|step| step.changed_voxels.to_string())
            .collect();
        if changed.is_empty() {
            println!("start state: {rule}");
        } else {
            println!(
                "start state: {rule}, voxels changed per step: {}",
                changed.join(", ")
            );
        }
    }
    if let Some(cv) = q.noise_cv {
        println!("noise CV (central slice, last time): {cv:.4}");
    }
    match q.dose {
        Some(dose) => println!("simulation dose: {dose:.4} counts per unit projected intensity"),
        None => println!("simulation dose: none (noise-free)"),
    }
    println!(
        "simulated spreads: initial {:.4}, fully alloyed {:.4}; wrote {} in {:.1} s on {}",
        q.simulated_spread_initial,
        q.simulated_spread_alloyed,
        out.display(),
        started.elapsed().as_secs_f64(),
        engine.backend().describe()
    );
    Ok(())
}
