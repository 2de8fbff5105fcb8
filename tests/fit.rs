//! The fit end to end (DESIGN.md §6): synthetic experiments made with a known D and their own noise
//! seed are fitted back with another seed; the table and exact modes agree.

use alloyfit::analysis::prepare_experiment;
use alloyfit::backend::Backend;
use alloyfit::diffusion::BETA_DEFAULT;
use alloyfit::experiment::{Correction, FitMode, LoadedExperiment};
use alloyfit::fit::{FitOutcome, TABLE_POINTS_DEFAULT, fit};
use alloyfit::imaging::ImagingParams;
use alloyfit::io::{Overwrite, StagedDir};
use alloyfit::synth::{SynthConfig, synthesize};

/// Makes a synthetic experiment in a temporary folder and loads it.
fn synthetic(
    phantom: &str,
    d_m2s: f64,
    voxel_nm: f64,
    times_s: &[f64],
    iterations: usize,
    dir: &std::path::Path,
) -> LoadedExperiment {
    let out = dir.join(phantom);
    let staged = StagedDir::create(&out, Overwrite::Refuse).unwrap();
    let config = SynthConfig {
        phantom: phantom.into(),
        d_m2s,
        voxel_nm,
        times_s: times_s.to_vec(),
        dose: 100.0,
        seed: 7,
        tilts: "-70:70:2".into(),
        imaging: ImagingParams {
            sirt_iterations: iterations,
            noise_seed: 7,
            ..ImagingParams::defaults(voxel_nm)
        },
        beta: BETA_DEFAULT,
    };
    synthesize(&Backend::Cpu, &config, &staged, &mut |_, _| {}).unwrap();
    staged.commit().unwrap();
    LoadedExperiment::load(&out.join("experiment.toml")).unwrap()
}

fn fit_experiment(loaded: &LoadedExperiment, mode: FitMode, correction: Correction) -> FitOutcome {
    let mut settings = loaded.experiment.fit.clone();
    settings.mode = mode;
    settings.correction = correction;
    let mut loaded = loaded.clone();
    loaded.experiment.fit = settings.clone();
    let backend = Backend::Cpu;
    let mut prepared = prepare_experiment(&backend, &loaded, &mut |_| {}).unwrap();
    fit(
        &backend,
        &mut prepared,
        &settings,
        TABLE_POINTS_DEFAULT,
        &mut |_, _| {},
    )
    .unwrap()
}

#[test]
fn recovers_a_known_d_within_ten_percent_and_two_sd() {
    let dir = tempfile::tempdir().unwrap();
    for (phantom, voxel_nm) in [("NC1", 3.0), ("NR1", 1.5)] {
        let d_true = 2.7e-19;
        let loaded = synthetic(
            phantom,
            d_true,
            voxel_nm,
            &[
                0.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
            ],
            20,
            dir.path(),
        );
        let outcome = fit_experiment(&loaded, FitMode::Table, Correction::Corrected);
        eprintln!(
            "{phantom}: D = {:.3e} ± {:.2e} (truth {d_true:e}), MSE {:.2e}, warnings {:?}",
            outcome.d_m2s, outcome.sd_m2s, outcome.mse, outcome.warnings
        );
        assert!(
            (outcome.d_m2s / d_true - 1.0).abs() < 0.1,
            "{phantom}: {}",
            outcome.d_m2s
        );
        assert!(
            (outcome.d_m2s - d_true).abs() < 2.0 * outcome.sd_m2s,
            "{phantom}: {} ± {}",
            outcome.d_m2s,
            outcome.sd_m2s
        );
    }
}

/// The table's knot count comes from this measurement: a table of 49 knots is subsampled to 7, 9,
/// 13, 17 and 25 knots, and each is interpolated at the knots it left out. The error in α (spread
/// error over S(0) − S_100) must stay below 1e-3 at the default; coarser tables are printed for
/// the record.
#[test]
fn default_table_interpolates_alpha_to_1e_3() {
    use alloyfit::fit::SpreadTable;
    use alloyfit::fit::pchip::Pchip;
    let dir = tempfile::tempdir().unwrap();
    let loaded = synthetic("NC1", 2.7e-19, 3.0, &[0.0, 60.0, 600.0], 20, dir.path());
    let backend = Backend::Cpu;
    let mut prepared = prepare_experiment(&backend, &loaded, &mut |_| {}).unwrap();
    let table =
        SpreadTable::build(&backend, &mut prepared, BETA_DEFAULT, 49, &mut |_, _| {}).unwrap();
    let q = &prepared.quantification;
    let alpha_scale = q.simulated_spread_initial - q.simulated_spread_alloyed;
    let mut default_error = f64::NAN;
    for stride in [8, 6, 4, 3, 2] {
        let knots: Vec<usize> = (0..table.sqrt_tau_nm.len()).step_by(stride).collect();
        let pchip = Pchip::new(
            knots.iter().map(|&n| table.sqrt_tau_nm[n]).collect(),
            knots.iter().map(|&n| table.spreads[n]).collect(),
        )
        .unwrap();
        let error = (0..table.sqrt_tau_nm.len())
            .map(|n| (pchip.value(table.sqrt_tau_nm[n]) - table.spreads[n]).abs() / alpha_scale)
            .fold(0.0, f64::max);
        eprintln!(
            "{} knots: max interpolation error in alpha {error:.2e}",
            knots.len()
        );
        if knots.len() == TABLE_POINTS_DEFAULT {
            default_error = error;
        }
    }
    assert!(default_error < 1e-3, "default table: {default_error}");
}
