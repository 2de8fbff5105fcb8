//! `fit` as a library call: quantify an experiment, fit D ± SD (with the start-mask search and the
//! start check), and write the report folder: report.json (the typed [`Report`]), curves.csv,
//! measured.csv, the plots and slices.png.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::analysis::{Quantification, SegmentedReconstructions, Simulator};
use crate::backend::Backend;
use crate::experiment::{Experiment, LoadedExperiment};
use crate::fit::start_check::{StartCheck, start_check};
use crate::fit::start_level::{FitRun, StartLevel, prepare_and_fit};
use crate::fit::{FitOutcome, simulated_slices};
use crate::imaging::ImagingParams;
use crate::io::{Overwrite, StagedDir, write_bytes_atomically};
use crate::plot::slices::{central_k, montage, normalised_slice};
use crate::plot::{Figure, Rgb, Series, Style};
use crate::progress::Progress;

use super::csv_file;
use super::quantify::write_curve_csv;

/// A finished fit's report; its presence in a folder marks the fit done.
pub const REPORT_FILE: &str = "report.json";

/// Seconds per stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timings {
    pub quantify_s: f64,
    pub fit_s: f64,
    pub start_check_s: f64,
    pub slices_s: f64,
    pub total_s: f64,
}

/// What a fit found and everything it was found with: report.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub particle: String,
    pub d_m2s: f64,
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_m2s: f64,
    /// D and SD in units of 1e-19 m²/s, as the paper reports them.
    pub d_1e19: f64,
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_1e19: f64,
    pub mse: f64,
    pub fit: FitOutcome,
    /// D fitted again with the other start-mask rule (absent where there is nothing to check).
    pub start_check: Option<StartCheck>,
    /// The fitted start mask's level search (absent for the other rules).
    pub start_level: Option<StartLevel>,
    pub quantification: Quantification,
    pub experiment: Experiment,
    pub imaging: ImagingParams,
    pub table_points: usize,
    pub device: String,
    pub alloyfit_version: String,
    pub timings: Timings,
}

impl Report {
    /// Reads a report.json.
    pub fn read(path: &Path) -> Result<Report> {
        let text = crate::io::read_text(path, "report")?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a report of alloyfit {} (fit the experiment again)",
                path.display(),
                env!("CARGO_PKG_VERSION")
            )
        })
    }

    /// The report as report.json writes it.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    /// Measured points the fit used (t > 0).
    pub fn fit_points(&self) -> usize {
        self.fit.times_s.iter().filter(|t| **t > 0.0).count()
    }

    /// `NC1: D = (2.7 ± 0.2)e-19 m²/s (MSE 1.2e-4, 9 points, gpu: <adapter>)`, led by `name`.
    pub fn summary_line(&self, name: &str) -> String {
        format!(
            "{name}: D = {} m²/s (MSE {:.1e}, {} points, {})",
            format_d(self.d_m2s, self.sd_m2s),
            self.mse,
            self.fit_points(),
            self.device
        )
    }
}

/// D and SD over D's power of ten, to the SD's first significant digit: ("2.7 ± 0.2", -19).
fn d_over_power(d: f64, sd: f64) -> (String, i32) {
    let exponent = d.abs().log10().floor() as i32;
    let scale = 10f64.powi(exponent);
    let digits = (-(sd / scale).log10().floor()).clamp(1.0, 4.0) as usize;
    let mantissas = format!("{:.digits$} ± {:.digits$}", d / scale, sd / scale);
    (mantissas, exponent)
}

/// `(2.7 ± 0.2)e-19`: D and SD with the SD's first significant digit, for text output.
pub fn format_d(d: f64, sd: f64) -> String {
    let (mantissas, exponent) = d_over_power(d, sd);
    format!("({mantissas})e{exponent}")
}

/// `10⁻¹⁹` for an exponent.
fn power_of_ten(exponent: i32) -> String {
    let superscript = |c: char| match c {
        '-' => '⁻',
        digit => ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'][digit as usize - '0' as usize],
    };
    format!(
        "10{}",
        exponent
            .to_string()
            .chars()
            .map(superscript)
            .collect::<String>()
    )
}

/// `(2.7 ± 0.2) × 10⁻¹⁹`: [`format_d`] as a figure prints it.
fn figure_d(d: f64, sd: f64) -> String {
    let (mantissas, exponent) = d_over_power(d, sd);
    format!("({mantissas}) × {}", power_of_ten(exponent))
}

/// curves.csv: one row per measured time; the reference curves' columns are named by their D.
fn write_curves(path: &Path, outcome: &FitOutcome) -> Result<()> {
    let mut header = vec![
        "t_s".to_owned(),
        "alpha_measured".to_owned(),
        "alpha_fit".to_owned(),
        "residual".to_owned(),
    ];
    header.extend(
        outcome
            .reference_curves
            .iter()
            .map(|(d, _)| format!("alpha_d{d:e}")),
    );
    csv_file(path, Overwrite::Refuse, |out| {
        out.write_record(&header)?;
        let mut residuals = outcome.residuals.iter();
        for (k, t_s) in outcome.times_s.iter().enumerate() {
            let residual = if *t_s > 0.0 {
                residuals.next().map_or(String::new(), f64::to_string)
            } else {
                String::new()
            };
            let mut record = vec![
                t_s.to_string(),
                outcome.alpha_measured[k].to_string(),
                outcome.alpha_fit[k].to_string(),
                residual,
            ];
            record.extend(
                outcome
                    .reference_curves
                    .iter()
                    .map(|(_, c)| c[k].to_string()),
            );
            out.write_record(&record)?;
        }
        Ok(())
    })
}

/// The curve (measured, best fit, the paper's reference Ds), the residuals and the MSE landscape.
fn figures(outcome: &FitOutcome, particle: &str) -> Vec<(&'static str, Figure)> {
    let pairs = |times: &[f64], values: &[f64]| -> Vec<(f64, f64)> {
        times.iter().copied().zip(values.iter().copied()).collect()
    };
    let at_times = |values: &[f64]| pairs(&outcome.times_s, values);
    // Smooth curves where the fit has them (table mode), else the values at the measured times.
    let sampled = outcome.sampled_curves.as_ref();
    let smooth = |at_measured: &[f64], dense: Option<&[f64]>| match (sampled, dense) {
        (Some(s), Some(values)) => pairs(&s.times_s, values),
        _ => at_times(at_measured),
    };
    let mut curves = vec![
        Series {
            name: "measured".into(),
            points: at_times(&outcome.alpha_measured),
            style: Style::Markers,
            colour: Rgb::BLACK,
        },
        Series {
            name: format!(
                "best fit, D = {} m²/s",
                figure_d(outcome.d_m2s, outcome.sd_m2s)
            ),
            points: smooth(&outcome.alpha_fit, sampled.map(|s| s.fit.as_slice())),
            style: Style::DashedLine,
            colour: Rgb::BLUE,
        },
    ];
    for (n, ((d, alpha), colour)) in outcome
        .reference_curves
        .iter()
        .zip([Rgb::RED, Rgb::GREEN])
        .enumerate()
    {
        curves.push(Series {
            name: format!("D = {} m²/s", power_of_ten(d.log10().round() as i32)),
            points: smooth(alpha, sampled.map(|s| s.references[n].1.as_slice())),
            style: Style::Line,
            colour,
        });
    }
    let fitted_times = outcome.times_s.iter().copied().filter(|t| *t > 0.0);
    let residuals = Series {
        name: "measured − fit".into(),
        points: fitted_times
            .zip(outcome.residuals.iter().copied())
            .collect(),
        style: Style::Markers,
        colour: Rgb::BLACK,
    };
    let landscape = Series {
        name: "log₁₀ MSE".into(),
        points: outcome
            .landscape
            .iter()
            .map(|&(x, mse)| (x, mse.log10()))
            .collect(),
        style: Style::Line,
        colour: Rgb::BLUE,
    };
    let optimum = Series {
        name: format!("optimum, log₁₀ D = {:.4}", outcome.log10_d),
        points: vec![(outcome.log10_d, outcome.mse.log10())],
        style: Style::Markers,
        colour: Rgb::RED,
    };
    vec![
        (
            "curve",
            Figure {
                title: format!("{particle}: degree of alloying"),
                x_label: "heating time (s)".into(),
                y_label: "degree of alloying α".into(),
                series: curves,
                baseline_y: None,
            },
        ),
        (
            "residuals",
            Figure {
                title: format!("{particle}: residuals"),
                x_label: "heating time (s)".into(),
                y_label: "α measured − α fit".into(),
                series: vec![residuals],
                baseline_y: Some(0.0),
            },
        ),
        (
            "mse",
            Figure {
                title: format!("{particle}: objective"),
                x_label: "log₁₀ D (m²/s)".into(),
                y_label: "log₁₀ MSE".into(),
                series: vec![landscape, optimum],
                baseline_y: None,
            },
        ),
    ]
}

/// slices.png: the measured reconstructions' central slices above the simulated ones at the fitted
/// D; None for an experiment given as a measured curve, which has no reconstructions.
fn slices_png(
    backend: &Backend,
    segmented: &SegmentedReconstructions,
    simulator: &mut Simulator,
    outcome: &FitOutcome,
    experiment: &Experiment,
    progress: &mut dyn Progress,
) -> Result<Option<Vec<u8>>> {
    if segmented.reconstructions.is_empty() {
        progress.line("no reconstructions (a measured curve): slices.png is not drawn");
        return Ok(None);
    }
    progress.line("imaging the fitted D at each time for slices.png");
    let k = central_k(&simulator.start.mask);
    let simulated = simulated_slices(
        backend,
        simulator,
        &outcome.times_s,
        experiment.fit.beta,
        outcome.d_m2s,
        k,
        progress,
    )?;
    let simulation_mask = &simulator.start.mask;
    let measured: Vec<_> = segmented
        .reconstructions
        .iter()
        .zip(&segmented.segmentations)
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
        figure_d(outcome.d_m2s, outcome.sd_m2s)
    );
    let voxel_nm = simulation_mask.voxel_nm();
    Ok(Some(montage(
        &title,
        &outcome.times_s,
        &measured,
        &simulated,
        voxel_nm,
    )?))
}

/// A finished fit: its report, and slices.png where it was asked for and there are
/// reconstructions to show.
pub struct FitProducts {
    pub report: Report,
    pub slices_png: Option<Vec<u8>>,
}

/// Fits `loaded` on `backend` and writes the report folder into `staged` (not committed).
pub fn fit_into(
    loaded: &LoadedExperiment,
    backend: &Backend,
    table_points: usize,
    staged: &StagedDir,
    progress: &mut dyn Progress,
) -> Result<Report> {
    let products = fit_experiment(loaded, backend, table_points, true, progress)?;
    write_report_folder(&products, staged)?;
    Ok(products.report)
}

/// Fits `loaded` on `backend`: quantification, D ± SD, the start check and, if `draw_slices`,
/// slices.png. Writes nothing.
pub fn fit_experiment(
    loaded: &LoadedExperiment,
    backend: &Backend,
    table_points: usize,
    draw_slices: bool,
    progress: &mut dyn Progress,
) -> Result<FitProducts> {
    progress.line(&format!("running on {}", backend.describe()));
    let started = Instant::now();
    let FitRun {
        segmented,
        quantified,
        mut simulator,
        mut outcome,
        start_level,
        prepare_s: quantify_s,
        fit_s,
    } = prepare_and_fit(backend, loaded, table_points, progress)?;
    let check_started = Instant::now();
    let start_check = start_check(
        backend,
        loaded,
        &segmented,
        &outcome,
        table_points,
        progress,
    )?;
    outcome
        .warnings
        .extend(start_check.as_ref().and_then(StartCheck::warning));
    let start_check_s = check_started.elapsed().as_secs_f64();
    for warning in &outcome.warnings {
        progress.line(&format!("warning: {warning}"));
    }
    let slices_started = Instant::now();
    let slices_png = if draw_slices {
        slices_png(
            backend,
            &segmented,
            &mut simulator,
            &outcome,
            &loaded.experiment,
            progress,
        )?
    } else {
        None
    };
    let report = Report {
        particle: loaded.experiment.particle.name.clone(),
        d_m2s: outcome.d_m2s,
        sd_m2s: outcome.sd_m2s,
        d_1e19: outcome.d_m2s / 1e-19,
        sd_1e19: outcome.sd_m2s / 1e-19,
        mse: outcome.mse,
        fit: outcome,
        start_check,
        start_level,
        quantification: quantified.quantification,
        experiment: loaded.experiment.clone(),
        imaging: quantified.imaging,
        table_points,
        device: backend.describe(),
        alloyfit_version: env!("CARGO_PKG_VERSION").to_owned(),
        timings: Timings {
            quantify_s,
            fit_s,
            start_check_s,
            slices_s: slices_started.elapsed().as_secs_f64(),
            total_s: started.elapsed().as_secs_f64(),
        },
    };
    Ok(FitProducts { report, slices_png })
}

/// Writes a fit's report folder into `staged` (not committed): report.json last.
pub fn write_report_folder(products: &FitProducts, staged: &StagedDir) -> Result<()> {
    let report = &products.report;
    write_curves(&staged.path("curves.csv"), &report.fit)?;
    write_curve_csv(&staged.path("measured.csv"), &report.quantification)?;
    for (name, figure) in figures(&report.fit, &report.particle) {
        write_bytes_atomically(
            &staged.path(&format!("{name}.svg")),
            Overwrite::Refuse,
            figure.to_svg()?.as_bytes(),
        )?;
        write_bytes_atomically(
            &staged.path(&format!("{name}.png")),
            Overwrite::Refuse,
            &figure.to_png()?,
        )?;
    }
    if let Some(png) = &products.slices_png {
        write_bytes_atomically(&staged.path("slices.png"), Overwrite::Refuse, png)?;
    }
    // report.json last: a folder with it is a finished fit (batch runs rely on that).
    write_bytes_atomically(
        &staged.path(REPORT_FILE),
        Overwrite::Refuse,
        report.to_json()?.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d_is_written_to_the_sds_first_digit() {
        assert_eq!(format_d(2.7054e-19, 2.0e-21), "(2.71 ± 0.02)e-19");
        assert_eq!(figure_d(2.7054e-19, 2.0e-21), "(2.71 ± 0.02) × 10⁻¹⁹");
        assert_eq!(power_of_ten(-18), "10⁻¹⁸");
        assert_eq!(power_of_ten(3), "10³");
    }
}
