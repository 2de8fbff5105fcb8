//! `alloyfit quantify`: the measured alloying curve of an experiment (see `alloyfit::analysis`),
//! with the noise estimate, the calibrated dose, and the segmented masks for inspection.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use alloyfit::analysis::{Quantification, prepare_experiment};
use alloyfit::backend::Engine;
use alloyfit::experiment::LoadedExperiment;
use alloyfit::io::{Overwrite, StagedDir, write_atomically, write_volume};

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

/// curve.csv: one row per time.
pub fn write_curve_csv(path: &Path, q: &Quantification) -> Result<()> {
    write_atomically(path, Overwrite::Refuse, |out| {
        writeln!(
            out,
            "t_s,alpha,alpha_corrected,alpha_uncorrected,spread,slice_cv,mask_voxels"
        )?;
        for (n, t_s) in q.times_s.iter().enumerate() {
            let optional = |values: &Option<Vec<f64>>| {
                values.as_ref().map_or(String::new(), |v| v[n].to_string())
            };
            let (spread, slice_cv, voxels) = match &q.measured {
                Some(m) => (
                    m[n].spread.to_string(),
                    m[n].slice_spread.to_string(),
                    m[n].mask_voxels.to_string(),
                ),
                None => Default::default(),
            };
            writeln!(
                out,
                "{t_s},{},{},{},{spread},{slice_cv},{voxels}",
                q.alpha[n],
                optional(&q.alpha_corrected),
                optional(&q.alpha_uncorrected)
            )?;
        }
        Ok(())
    })
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
    // The quantification outlives the backend borrow that the rest of a prepared experiment holds.
    let (quantification, segmentations) = engine.run(&mut reporter, |backend, reporter| {
        let prepared = prepare_experiment(backend, &loaded, reporter)?;
        Ok((prepared.quantification, prepared.segmentations))
    })?;
    drop(reporter);
    let q = &quantification;
    write_curve_csv(&staged.path("curve.csv"), q)?;
    write_atomically(&staged.path("quantify.json"), Overwrite::Refuse, |out| {
        serde_json::to_writer_pretty(&mut *out, q)?;
        writeln!(out)?;
        Ok(())
    })?;
    if !segmentations.is_empty() {
        std::fs::create_dir_all(staged.path("masks"))?;
        for (n, segmentation) in segmentations.iter().enumerate() {
            let name = format!("masks/mask_{n:02}_t{}s.tif", q.times_s[n]);
            write_volume(
                &staged.path(&name),
                &segmentation.mask.to_volume(),
                Overwrite::Refuse,
            )?;
        }
    }
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
