//! The fit end to end (docs/METHOD.md §6): synthetic experiments made with a known D and their own
//! noise seed are fitted back with another seed; the table and exact modes agree.

use alloyfit::analysis::prepare_experiment;
use alloyfit::backend::Backend;
use alloyfit::diffusion::BETA_DEFAULT;
use alloyfit::experiment::{Correction, FitMode, LoadedExperiment};
use alloyfit::fit::start_level::prepare_and_fit;
use alloyfit::fit::{CORRECTION_KNOTS, FitOutcome, TABLE_POINTS_DEFAULT, fit};
use alloyfit::imaging::ImagingParams;
use alloyfit::io::{Overwrite, StagedDir};
use alloyfit::progress::Silent;
use alloyfit::synth::{SynthConfig, synthesize};

/// `alloyfit synth`'s default dose: a clean acquisition (noise CV 1.9% on NC1's alloyed slice at
/// 2 nm), for tests about the model rather than the noise.
const CLEAN_DOSE: f64 = 100.0;

/// A noisier acquisition, as the bundled example's (noise CV 5.4% on NC1's alloyed slice at 2 nm).
/// Its SD of D (1.1% on NC1) is still 3× under the paper's (2.7 ± 0.1): the data the paper fitted
/// were noisier still, or its model further off.
const NOISY_DOSE: f64 = 10.0;

/// Makes a synthetic experiment in a temporary folder and loads it.
fn synthetic(
    phantom: &str,
    d_m2s: f64,
    voxel_nm: f64,
    times_s: &[f64],
    iterations: usize,
    dose: f64,
    dir: &std::path::Path,
) -> LoadedExperiment {
    let out = dir.join(phantom);
    let staged = StagedDir::create(&out, Overwrite::Refuse).unwrap();
    let config = SynthConfig {
        phantom: phantom.into(),
        d_m2s,
        voxel_nm,
        times_s: times_s.to_vec(),
        dose,
        seed: 7,
        tilts: "-70:70:2".into(),
        imaging: ImagingParams {
            sirt_iterations: iterations,
            noise_seed: 7,
            ..ImagingParams::defaults(voxel_nm)
        },
        beta: BETA_DEFAULT,
        // On the fit's own grid, as the recovery figures they quote were measured; data made
        // otherwise are tests/foreign_data.rs's.
        oversample: 1,
        fov_voxels: None,
        shape_jitter_nm: None,
    };
    synthesize(&Backend::Cpu, &config, &staged, &mut Silent).unwrap();
    staged.commit().unwrap();
    LoadedExperiment::load(&out.join("experiment.toml")).unwrap()
}

/// Fits at one start mask: for the default, fitted rule, the smoothed rule at level 1, as
/// `prepare_experiment` builds it. These tests compare modes on one start state, not start states.
fn fit_experiment(loaded: &LoadedExperiment, mode: FitMode, correction: Correction) -> FitOutcome {
    let mut settings = loaded.experiment.fit.clone();
    settings.mode = mode;
    settings.correction = correction;
    let mut loaded = loaded.clone();
    loaded.experiment.fit = settings.clone();
    let backend = Backend::Cpu;
    let (_, quantified, mut simulator) =
        prepare_experiment(&backend, &loaded, &mut Silent).unwrap();
    fit(
        &backend,
        &quantified.quantification,
        &mut simulator,
        &settings,
        TABLE_POINTS_DEFAULT,
        &mut Silent,
    )
    .unwrap()
}

/// Synthesises `phantom` with `d_true` at [`NOISY_DOSE`] (noise seed 7), fits it back (seed 8),
/// with the default start mask rule, which fits the surface level along with D, checks that D lands
/// within `tolerance` of the truth and returns how many SDs the truth lies from D.
fn assert_recovers(
    phantom: &str,
    voxel_nm: f64,
    d_true: f64,
    iterations: usize,
    tolerance: f64,
) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let loaded = synthetic(
        phantom,
        d_true,
        voxel_nm,
        &PAPER_TIMES_S,
        iterations,
        NOISY_DOSE,
        dir.path(),
    );
    let run = prepare_and_fit(&Backend::Cpu, &loaded, TABLE_POINTS_DEFAULT, &mut Silent).unwrap();
    let outcome = run.outcome;
    let level = run
        .start_level
        .expect("the default rule fits the start level");
    let z = (outcome.d_m2s - d_true) / outcome.sd_m2s;
    eprintln!(
        "{phantom}: start level {:.4} ± {:.4}, the smoothing's share of the SD {:.2e}, after {} fits",
        level.level,
        level.sd_level,
        level.sd_from_smoothing_m2s,
        level.evaluations.len()
    );
    // The widths either side of the default were fitted, and their share is in the SD.
    let mut widths: Vec<f64> = level
        .evaluations
        .iter()
        .map(|e| e.smoothing_voxels)
        .collect();
    widths.dedup();
    assert_eq!(widths.len(), 3, "{phantom}: widths tried {widths:?}");
    assert!(level.sd_from_smoothing_m2s > 0.0);
    assert!(outcome.sd_m2s >= level.sd_at_level_m2s.hypot(level.sd_from_smoothing_m2s));
    eprintln!(
        "{phantom}: D = {:.4e} ± {:.2e} (truth {d_true:e}, {z:+.2} SD), MSE {:.2e}, warnings {:?}",
        outcome.d_m2s, outcome.sd_m2s, outcome.mse, outcome.warnings
    );
    let error = outcome.d_m2s / d_true - 1.0;
    assert!(
        error.abs() < tolerance,
        "{phantom}: D {:e} is {:+.1}% off",
        outcome.d_m2s,
        100.0 * error
    );
    z
}

/// NC1 at 2 nm with the bundled example's 30 SIRT iterations. With 20 iterations the reconstruction
/// blurs the core-shell interface enough to bias D by −5%; 2 nm is the coarsest voxel that resolves
/// it (at 3 nm D comes out +28%). Here D is +0.1% off (0.1 SD). Over 20 noise seeds the fitted
/// start mask leaves a bias of +1.1%, the smoothing's rounding of the cube's edges, against a mean
/// SD of 0.86% with the smoothing's share, and the truth lay within 2 SD in 18 of them
/// (docs/PERFORMANCE.md, "The start mask's smoothing"). 3%: that bias plus three times those
/// seeds' scatter of 0.55% (all 20 lay within +2.3%).
#[test]
fn recovers_the_d_of_a_cube() {
    let z = assert_recovers("NC1", 2.0, 2.7e-19, 30, 0.03);
    assert!(z.abs() <= 2.0, "NC1: the truth is {z:+.2} SD from D");
}

/// NR1 at the 0.5 nm of docs/METHOD.md §5. Coarser voxels fail: at 1 nm the shell is 3 voxels thick
/// and the t = 0 segmentation cuts into it (25% too few voxels); at 0.75 nm D comes out +15%. The
/// fitted start level matters most here: the segmented mask's rough surface put D −6.2% (−2.3 SD)
/// off, the fitted level and the smoothing's share in the SD −0.9% (−1.95 SD; −0.5% when every
/// start mask had its own table), and the matched start state −0.55% (−1.24 SD; −0.56%, −1.27 SD
/// with four knots per correction). The 3% of the cube holds here too; a D 10% off fails it.
#[test]
fn recovers_the_d_of_a_rod() {
    let z = assert_recovers("NR1", 0.5, 3.4e-19, 50, 0.03);
    assert!(z.abs() <= 2.0, "NR1: the truth is {z:+.2} SD from D");
}

/// The table's knot count comes from this measurement: a table of 65 knots is subsampled to 9, 17
/// and 33 knots, and each is interpolated at the knots it left out. The error in α (spread error
/// over S(0) − S_100) must stay below 1.5e-3 at the default, well under the noise of a measured
/// curve (rms residuals of 5e-3 in the example fits); coarser tables are printed for the record.
#[test]
fn default_table_interpolates_alpha_to_1_5e_3() {
    use alloyfit::fit::SpreadTable;
    use alloyfit::fit::pchip::Pchip;
    let dir = tempfile::tempdir().unwrap();
    let loaded = synthetic(
        "NC1",
        2.7e-19,
        3.0,
        &[0.0, 60.0, 600.0],
        20,
        CLEAN_DOSE,
        dir.path(),
    );
    let backend = Backend::Cpu;
    let (_, quantified, mut simulator) =
        prepare_experiment(&backend, &loaded, &mut Silent).unwrap();
    let q = &quantified.quantification;
    let table = SpreadTable::build(
        &backend,
        &mut simulator,
        q.simulated_spread_initial,
        BETA_DEFAULT,
        65,
        &mut Silent,
    )
    .unwrap();
    let alpha_scale = q.simulated_spread_initial - q.simulated_spread_alloyed;
    let mut default_error = f64::NAN;
    for stride in [8, 4, 2] {
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
    assert!(default_error < 1.5e-3, "default table: {default_error}");
}

const PAPER_TIMES_S: [f64; 10] = [
    0.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];

#[test]
fn table_and_exact_modes_agree() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = synthetic(
        "NC1",
        2.7e-19,
        4.0,
        &[0.0, 60.0, 180.0, 600.0],
        10,
        CLEAN_DOSE,
        dir.path(),
    );
    let table = fit_experiment(&loaded, FitMode::Table, Correction::Corrected);
    let exact = fit_experiment(&loaded, FitMode::Exact, Correction::Corrected);
    eprintln!(
        "table: D = {:.4e} ({} chain runs, {} steps); exact: D = {:.4e} ({} chain runs, {} steps)",
        table.d_m2s,
        table.chain_runs,
        table.diffusion_steps,
        exact.d_m2s,
        exact.chain_runs,
        exact.diffusion_steps
    );
    assert!((table.d_m2s / exact.d_m2s - 1.0).abs() < 0.01);
}

#[test]
fn uncorrected_alpha_gives_a_larger_d() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = synthetic(
        "NC1",
        2.7e-19,
        3.0,
        &PAPER_TIMES_S,
        20,
        CLEAN_DOSE,
        dir.path(),
    );
    let corrected = fit_experiment(&loaded, FitMode::Table, Correction::Corrected);
    let uncorrected = fit_experiment(&loaded, FitMode::Table, Correction::Uncorrected);
    eprintln!(
        "corrected D = {:.3e}, uncorrected D = {:.3e}",
        corrected.d_m2s, uncorrected.d_m2s
    );
    assert!(uncorrected.d_m2s > corrected.d_m2s * 1.05);
}

/// The level search fits every start mask but the first on the first mask's table, corrected by
/// the mask's own spreads imaged at [`CORRECTION_KNOTS`] of the experiment's times for the first
/// mask's D (`SpreadTable::corrected_for`). Level 0.9 is further from the first mask (level 1) than
/// a search goes, and its D lies 11% below the first mask's. Against the mask's own full table, D
/// agrees within 0.3% (measured: 0.12%; 0.02% when all nine times were imaged): the full table
/// interpolates α to 1.5e-3 (the test above), and with dα/dln D of about 0.3 at the middle times
/// (NC1) that is up to 0.5% of D, mostly shared by the two tables. Uncorrected, the first mask's
/// table puts D 2.5% off.
#[test]
fn a_corrected_table_fits_another_start_mask_as_its_own_table() {
    use alloyfit::analysis::{TakenOver, prepare_segmented, read_and_segment};
    use alloyfit::fit::fit_to_table;
    use alloyfit::start_mask::StartShape;

    let dir = tempfile::tempdir().unwrap();
    let loaded = synthetic(
        "NC1",
        2.7e-19,
        2.0,
        &PAPER_TIMES_S,
        20,
        NOISY_DOSE,
        dir.path(),
    );
    let backend = Backend::Cpu;
    let settings = &loaded.experiment.fit;
    let segmented = read_and_segment(&Backend::Cpu, &loaded, &mut Silent).unwrap();
    let shape = StartShape::of(&loaded.experiment.data);
    let prepare = |level: f64, earlier| {
        prepare_segmented(
            &backend,
            &loaded,
            &segmented,
            &shape.at(shape.smoothing_voxels, level),
            earlier,
            &mut Silent,
        )
        .unwrap()
    };
    let full_fit = |quantified: &alloyfit::analysis::Quantified, simulator| {
        fit(
            &backend,
            &quantified.quantification,
            simulator,
            settings,
            TABLE_POINTS_DEFAULT,
            &mut Silent,
        )
        .unwrap()
    };
    let (first, mut first_simulator) = prepare(1.0, None);
    let first_correction = first_simulator.start.match_correction.clone();
    let first_fit = full_fit(&first, &mut first_simulator);
    let first_table = first_fit.table.clone().unwrap();
    let (other, mut other_simulator) = prepare(
        0.9,
        Some(TakenOver {
            quantification: &first.quantification,
            match_correction: first_correction.as_ref(),
        }),
    );
    let q = &other.quantification;
    let corrected = first_table
        .corrected_for(
            &backend,
            &mut other_simulator,
            q,
            settings.beta,
            first_fit.d_m2s,
            &mut Silent,
        )
        .unwrap();
    assert_eq!(corrected.chain_runs, CORRECTION_KNOTS);
    let on_corrected = fit_to_table(q, corrected, settings).unwrap();
    let on_first = fit_to_table(q, first_table, settings).unwrap();
    let own = full_fit(&other, &mut other_simulator);
    let off = |d: f64| d / own.d_m2s - 1.0;
    eprintln!(
        "level 0.9: own table D = {:.5e}; corrected {:+.3}%, first mask's uncorrected {:+.3}% (first mask: {:.5e})",
        own.d_m2s,
        100.0 * off(on_corrected.d_m2s),
        100.0 * off(on_first.d_m2s),
        first_fit.d_m2s
    );
    assert!(off(on_corrected.d_m2s).abs() < 3e-3);
    assert!(
        off(on_first.d_m2s).abs() > 3e-3,
        "the masks are too alike to tell"
    );
}
