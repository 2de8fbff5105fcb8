//! Fits of data alloyfit did not make. tests/data/astra-cube was made by
//! tests/data/make_astra_experiment.py: a particle voxelised and diffused on a grid twice as fine as
//! the reconstructions, projected there by ASTRA and binned to the detector pixel, with Poisson
//! noise, and reconstructed by ASTRA SIRT. Its shape, a cube turned 15° about the tilt axis around a
//! sphere, is none of the named phantoms. Agreement here is not alloyfit agreeing with itself.
//! tests/data/astra-tight is that particle in a box its projection outgrows at some tilts, recorded
//! on a detector wider than the box.

use std::path::{Path, PathBuf};

use alloyfit::backend::Backend;
use alloyfit::experiment::LoadedExperiment;
use alloyfit::fit::TABLE_POINTS_DEFAULT;
use alloyfit::fit::start_level::prepare_and_fit;
use alloyfit::progress::Silent;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The true D of a fixture (its truth.json).
fn true_d_m2s(folder: &Path) -> f64 {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("truth.json")).unwrap()).unwrap();
    truth["d_m2s"].as_f64().unwrap()
}

/// Fits the fixture in `folder` with the default settings; D's relative error and its z score.
fn fit_error_and_z(folder: &Path) -> (f64, f64) {
    let d_true = true_d_m2s(folder);
    let loaded = LoadedExperiment::load(&folder.join("experiment.toml")).unwrap();
    let run = prepare_and_fit(&Backend::Cpu, &loaded, TABLE_POINTS_DEFAULT, &mut Silent).unwrap();
    let outcome = run.outcome;
    let error = outcome.d_m2s / d_true - 1.0;
    let z = (outcome.d_m2s - d_true) / outcome.sd_m2s;
    eprintln!(
        "{}: D = {:.4e} ± {:.2e} (truth {d_true:e}: {:+.2}%, {z:+.2} SD)",
        folder.display(),
        outcome.d_m2s,
        outcome.sd_m2s,
        100.0 * error
    );
    (error, z)
}

/// The default fit finds D within 3% and within 2 SD. Measured: −0.61%, −0.69 SD, with the start
/// level fitted at 0.93 (with the brightest voxels as the start state, −0.86%; over three more
/// noise seeds −0.8 to −2.5%: docs/PERFORMANCE.md, "Data alloyfit did not make" and "The matched
/// start"). 3% is the accuracy the paper's D carries (2.7 ± 0.1); a D 10% off fails it.
#[test]
fn the_fit_recovers_d_from_astra_reconstructions_of_a_finer_particle() {
    let (error, z) = fit_error_and_z(&fixture("astra-cube"));
    assert!(error.abs() < 0.03, "D is {:+.2}% off", 100.0 * error);
    assert!(z.abs() <= 2.0, "the truth is {z:+.2} SD from D");
}

/// A box the particle's projection outgrows, recorded on a wider detector, given as
/// imaging.detector_pixels: the simulation images it on that detector and finds D within 5%
/// (measured −0.91%; with the brightest voxels as the start state −1.22%, and noise seeds 2, 3 and
/// 2026 gave −1.47, −0.65 and −5.03%, the last at −3.0 SD).
#[test]
fn a_tight_box_recorded_on_a_wider_detector_is_fitted_on_that_detector() {
    let (error, _) = fit_error_and_z(&fixture("astra-tight"));
    assert!(error.abs() < 0.05, "D is {:+.2}% off", 100.0 * error);
}

/// Without imaging.detector_pixels the simulation's detector is as wide as the box, narrower than
/// the particle's projection at some tilts: the fit refuses and says what to set, where it would
/// otherwise fit the simulation's cut-off projections to data that were not cut off.
#[test]
fn a_tight_box_without_its_detector_is_refused_with_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let source = fixture("astra-tight");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let experiment = dir.path().join("experiment.toml");
    let text = std::fs::read_to_string(&experiment).unwrap();
    assert!(text.contains("detector_pixels = 40"));
    std::fs::write(&experiment, text.replace("detector_pixels = 40\n", "")).unwrap();
    let loaded = LoadedExperiment::load(&experiment).unwrap();
    let error = match prepare_and_fit(&Backend::Cpu, &loaded, TABLE_POINTS_DEFAULT, &mut Silent) {
        Ok(_) => panic!("a particle wider than the detector was fitted"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        error.contains("past the 26-pixel detector")
            && error.contains("set imaging.detector_pixels")
            && error.contains("experiment.toml"),
        "{error}"
    );
}
