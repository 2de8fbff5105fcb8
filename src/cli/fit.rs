//! `alloyfit fit`: quantify an experiment, simulate, fit D ± SD, and write the report folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use alloyfit::analysis::{PreparedExperiment, Quantification};
use alloyfit::backend::{Backend, Engine};
use alloyfit::experiment::{Experiment, FitMode, LoadedExperiment};
use alloyfit::fit::simulated_reconstructions;
use alloyfit::fit::start_check::{StartCheck, start_check};
use alloyfit::fit::start_level::{FitRun, StartLevel, prepare_and_fit};
use alloyfit::fit::{FitOutcome, TABLE_POINTS_DEFAULT};
use alloyfit::imaging::ImagingParams;
use alloyfit::io::{Overwrite, StagedDir, write_atomically, write_bytes_atomically};
use alloyfit::plot::slices::{central_k, montage, normalised_slice};
use alloyfit::plot::{Plot, Rgb, Series, Style};
use alloyfit::progress::Progress;

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

/// Seconds per stage.
#[derive(Debug, Serialize)]
struct Timings {
    quantify_s: f64,
    fit_s: f64,
    start_check_s: f64,
    slices_s: f64,
    total_s: f64,
}

#[derive(Serialize)]
struct Report<'r> {
    particle: &'r str,
    d_m2s: f64,
    sd_m2s: f64,
    /// D and SD in units of 1e-19 m²/s, as the paper reports them.
    d_1e19: f64,
    sd_1e19: f64,
    mse: f64,
    fit: &'r FitOutcome,
    /// D fitted again with the other start-mask rule (absent where there is nothing to check).
    start_check: Option<&'r StartCheck>,
    /// The fitted start mask's level search (absent for the other rules).
    start_level: Option<&'r StartLevel>,
    quantification: &'r Quantification,
    experiment: &'r Experiment,
    imaging: &'r ImagingParams,
    table_points: usize,
    device: String,
    alloyfit_version: &'static str,
    timings: Timings,
}

fn write_curves(path: &Path, outcome: &FitOutcome) -> Result<()> {
    write_atomically(path, Overwrite::Refuse, |out| {
        write!(out, "t_s,alpha_measured,alpha_fit,residual")?;
        for (d, _) in &outcome.reference_curves {
            write!(out, ",alpha_d{d:e}")?;
        }
        writeln!(out)?;
        let mut residuals = outcome.residuals.iter();
        for (k, t_s) in outcome.times_s.iter().enumerate() {
            let residual = if *t_s > 0.0 {
                residuals.next().map_or(String::new(), f64::to_string)
            } else {
                String::new()
            };
            write!(
                out,
                "{t_s},{},{},{residual}",
                outcome.alpha_measured[k], outcome.alpha_fit[k]
            )?;
            for (_, curve) in &outcome.reference_curves {
                write!(out, ",{}", curve[k])?;
            }
            writeln!(out)?;
        }
        Ok(())
    })
}

/// `(2.7 ± 0.2)e-19`: D and SD with the SD's first significant digit.
pub fn format_d(d: f64, sd: f64) -> String {
    let exponent = d.abs().log10().floor() as i32;
    let scale = 10f64.powi(exponent);
    let digits = (-(sd / scale).log10().floor()).clamp(1.0, 4.0) as usize;
    format!(
        "({:.digits$} ± {:.digits$})e{exponent}",
        d / scale,
        sd / scale
    )
}

/// The curve (measured, best fit, the paper's reference Ds), the residuals and the MSE landscape.
fn plots(outcome: &FitOutcome, particle: &str) -> Vec<(&'static str, Plot)> {
    let at_times = |values: &[f64]| -> Vec<(f64, f64)> {
        outcome
            .times_s
            .iter()
            .copied()
            .zip(values.iter().copied())
            .collect()
    };
    let mut curves = vec![
        Series {
            name: "measured".into(),
            points: at_times(&outcome.alpha_measured),
            style: Style::Markers,
            colour: Rgb::BLACK,
        },
        Series {
            name: format!("best fit, D = {}", format_d(outcome.d_m2s, outcome.sd_m2s)),
            points: at_times(&outcome.alpha_fit),
            style: Style::DashedLine,
            colour: Rgb::BLUE,
        },
    ];
    for ((d, alpha), colour) in outcome.reference_curves.iter().zip([Rgb::RED, Rgb::GREEN]) {
        curves.push(Series {
            name: format!("D = {d:.0e} m²/s"),
            points: at_times(alpha),
            style: Style::Line,
            colour,
        });
    }
    let fitted_times: Vec<f64> = outcome
        .times_s
        .iter()
        .copied()
        .filter(|t| *t > 0.0)
        .collect();
    let residuals = Series {
        name: "measured − fit".into(),
        points: fitted_times
            .into_iter()
            .zip(outcome.residuals.iter().copied())
            .collect(),
        style: Style::Markers,
        colour: Rgb::BLACK,
    };
    let landscape = Series {
        name: "log10 MSE".into(),
        points: outcome
            .landscape
            .iter()
            .map(|&(x, mse)| (x, mse.log10()))
            .collect(),
        style: Style::Line,
        colour: Rgb::BLUE,
    };
    let optimum = Series {
        name: format!("optimum, log10 D = {:.4}", outcome.log10_d),
        points: vec![(outcome.log10_d, outcome.mse.log10())],
        style: Style::Markers,
        colour: Rgb::RED,
    };
    vec![
        (
            "curve",
            Plot {
                title: format!("{particle}: degree of alloying"),
                x_label: "heating time (s)".into(),
                y_label: "degree of alloying α".into(),
                series: curves,
            },
        ),
        (
            "residuals",
            Plot {
                title: format!("{particle}: residuals"),
                x_label: "heating time (s)".into(),
                y_label: "α measured − α fit".into(),
                series: vec![residuals],
            },
        ),
        (
            "mse",
            Plot {
                title: format!("{particle}: objective"),
                x_label: "log10 D (m²/s)".into(),
                y_label: "log10 MSE".into(),
                series: vec![landscape, optimum],
            },
        ),
    ]
}

/// slices.png: the measured reconstructions' central slices above the simulated ones at the fitted
/// D; None for an experiment given as a measured curve, which has no reconstructions.
fn slices_png(
    backend: &Backend,
    prepared: &mut PreparedExperiment,
    outcome: &FitOutcome,
    experiment: &Experiment,
    reporter: &mut Reporter,
) -> Result<Option<Vec<u8>>> {
    if prepared.reconstructions.is_empty() {
        reporter.line("no reconstructions (a measured curve): slices.png is not drawn");
        return Ok(None);
    }
    reporter.line("imaging the fitted D at each time for slices.png");
    let simulated = simulated_reconstructions(
        backend,
        prepared,
        experiment.fit.beta,
        outcome.d_m2s,
        reporter,
    )?;
    let simulation_mask = &prepared.start.mask;
    let k = central_k(simulation_mask);
    let measured: Vec<_> = prepared
        .reconstructions
        .iter()
        .zip(&prepared.segmentations)
        .map(|(volume, segmentation)| {
            normalised_slice(volume, &segmentation.mask, segmentation.background, k)
        })
        .collect();
    let simulated: Vec<_> = simulated
        .iter()
        .map(|volume| normalised_slice(volume, simulation_mask, 0.0, k))
        .collect();
    let title = format!(
        "{}: slice k = {k}, measured (top) and simulated at D = {} m²/s (bottom)",
        experiment.particle.name,
        format_d(outcome.d_m2s, outcome.sd_m2s)
    );
    let canvas = montage(&title, &outcome.times_s, &measured, &simulated);
    Ok(Some(canvas.to_png()?))
}

/// Pixels per drawing unit of the PNG plots: twice the SVG size, sharp on slides.
const PNG_SCALE: f64 = 2.0;

/// What `alloyfit fit` found, for the summary line and for batch runs.
pub struct Fitted {
    pub particle: String,
    pub d_m2s: f64,
    pub sd_m2s: f64,
    pub mse: f64,
    pub fit_points: usize,
    pub device: String,
    pub report_json: String,
}

impl Fitted {
    /// `NC1: D = (2.7 ± 0.2)e-19 m²/s (MSE 1.2e-4, 9 points, gpu: <adapter>)`, led by `name`.
    pub fn summary_line(&self, name: &str) -> String {
        format!(
            "{name}: D = {} m²/s (MSE {:.1e}, {} points, {})",
            format_d(self.d_m2s, self.sd_m2s),
            self.mse,
            self.fit_points,
            self.device
        )
    }
}

/// Fits `loaded` on `backend` and writes the report folder into `staged` (not committed).
pub fn fit_into(
    loaded: &LoadedExperiment,
    backend: &Backend,
    table_points: usize,
    staged: &StagedDir,
    reporter: &mut Reporter,
) -> Result<Fitted> {
    reporter.line(&format!("running on {}", backend.describe()));
    let started = Instant::now();
    let FitRun {
        mut prepared,
        mut outcome,
        start_level,
        prepare_s: quantify_s,
        fit_s,
    } = prepare_and_fit(backend, loaded, table_points, reporter)?;
    let check_started = Instant::now();
    let start_check = start_check(backend, loaded, &prepared, &outcome, table_points, reporter)?;
    outcome
        .warnings
        .extend(start_check.as_ref().and_then(StartCheck::warning));
    let start_check_s = check_started.elapsed().as_secs_f64();
    for warning in &outcome.warnings {
        reporter.line(&format!("warning: {warning}"));
    }
    let slices_started = Instant::now();
    let slices = slices_png(
        backend,
        &mut prepared,
        &outcome,
        &loaded.experiment,
        reporter,
    )?;
    let report = Report {
        particle: &loaded.experiment.particle.name,
        d_m2s: outcome.d_m2s,
        sd_m2s: outcome.sd_m2s,
        d_1e19: outcome.d_m2s / 1e-19,
        sd_1e19: outcome.sd_m2s / 1e-19,
        mse: outcome.mse,
        fit: &outcome,
        start_check: start_check.as_ref(),
        start_level: start_level.as_ref(),
        quantification: &prepared.quantification,
        experiment: &loaded.experiment,
        imaging: &prepared.imaging,
        table_points,
        device: backend.describe(),
        alloyfit_version: env!("CARGO_PKG_VERSION"),
        timings: Timings {
            quantify_s,
            fit_s,
            start_check_s,
            slices_s: slices_started.elapsed().as_secs_f64(),
            total_s: started.elapsed().as_secs_f64(),
        },
    };
    let report_json = serde_json::to_string_pretty(&report)? + "\n";
    write_curves(&staged.path("curves.csv"), &outcome)?;
    super::quantify::write_curve_csv(&staged.path("measured.csv"), &prepared.quantification)?;
    for (name, plot) in plots(&outcome, report.particle) {
        let drawing = plot.layout();
        write_bytes_atomically(
            &staged.path(&format!("{name}.svg")),
            Overwrite::Refuse,
            drawing.to_svg().as_bytes(),
        )?;
        if name == "curve" {
            write_bytes_atomically(
                &staged.path("curve.png"),
                Overwrite::Refuse,
                &drawing.to_canvas(PNG_SCALE).to_png()?,
            )?;
        }
    }
    if let Some(png) = slices {
        write_bytes_atomically(&staged.path("slices.png"), Overwrite::Refuse, &png)?;
    }
    // report.json last: a folder with it is a finished fit (batch runs rely on that).
    write_bytes_atomically(
        &staged.path(alloyfit::batch::REPORT_FILE),
        Overwrite::Refuse,
        report_json.as_bytes(),
    )?;
    Ok(Fitted {
        particle: report.particle.to_owned(),
        d_m2s: outcome.d_m2s,
        sd_m2s: outcome.sd_m2s,
        mse: outcome.mse,
        fit_points: outcome.times_s.iter().filter(|t| **t > 0.0).count(),
        device: report.device,
        report_json,
    })
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
    let fitted = engine.run(&mut reporter, |backend, reporter| {
        fit_into(&loaded, backend, args.table_points, &staged, reporter)
    })?;
    let out = staged.commit()?;
    reporter.line(&format!("wrote {}", out.display()));
    drop(reporter);
    if args.json {
        print!("{}", fitted.report_json);
    } else {
        println!("{}", fitted.summary_line(&fitted.particle));
    }
    Ok(())
}
