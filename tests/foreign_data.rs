//! Fits of data alloyfit did not make. tests/data/astra-cube was made by
//! tests/data/make_astra_experiment.py: a particle voxelised and diffused on a grid twice as fine as
//! the reconstructions, projected there by ASTRA and binned to the detector pixel, with Poisson
//! noise, and reconstructed by ASTRA SIRT. Its shape, a cube turned 15° about the tilt axis around a
//! sphere, is none of the named phantoms. Agreement here is not alloyfit agreeing with itself.

use std::path::Path;

use alloyfit::backend::Backend;
use alloyfit::experiment::LoadedExperiment;
use alloyfit::fit::TABLE_POINTS_DEFAULT;
use alloyfit::fit::start_level::prepare_and_fit;
use alloyfit::progress::Silent;

/// The true D of tests/data/astra-cube (its truth.json).
fn true_d_m2s(folder: &Path) -> f64 {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("truth.json")).unwrap()).unwrap();
    truth["d_m2s"].as_f64().unwrap()
}

/// The default fit finds D within 3% and within 2 SD. Measured: −0.86%, −0.85 SD, with the start
/// level fitted at 0.93 (docs/PERFORMANCE.md, "Data alloyfit did not make"). 3% is the accuracy the
/// paper's D carries (2.7 ± 0.1); a D 10% off fails it.
#[test]
fn the_fit_recovers_d_from_astra_reconstructions_of_a_finer_particle() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/astra-cube");
    let d_true = true_d_m2s(&folder);
    let loaded = LoadedExperiment::load(&folder.join("experiment.toml")).unwrap();
    let run = prepare_and_fit(&Backend::Cpu, &loaded, TABLE_POINTS_DEFAULT, &mut Silent).unwrap();
    let outcome = run.outcome;
    let error = outcome.d_m2s / d_true - 1.0;
    let z = (outcome.d_m2s - d_true) / outcome.sd_m2s;
    eprintln!(
        "astra-cube: D = {:.4e} ± {:.2e} (truth {d_true:e}: {:+.2}%, {z:+.2} SD)",
        outcome.d_m2s,
        outcome.sd_m2s,
        100.0 * error
    );
    assert!(error.abs() < 0.03, "D is {:+.2}% off", 100.0 * error);
    assert!(z.abs() <= 2.0, "the truth is {z:+.2} SD from D");
}
