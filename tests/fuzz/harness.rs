//! What each fuzz target does with one input, shared by the fuzz targets (tests/fuzz/fuzz_targets)
//! and by tests/fuzz_replay.rs, which runs every saved corpus input and crasher through the same
//! code. A reader may refuse an input with an error; it must not panic, hang or allocate more than
//! the input can hold or the memory budget allows.

use std::path::Path;

use alloyfit::experiment::{Experiment, LoadedExperiment};
use alloyfit::io::{Format, decode_volume, tilts};
use alloyfit::workflow::batch::Manifest;

/// The memory budget under fuzzing: far above what the seeds need, far below libFuzzer's 2 GiB
/// RSS limit, so an input that asks for more is refused by the budget, not killed by the fuzzer.
const FUZZ_BUDGET_BYTES: u64 = 256 << 20;

/// What a fuzz target does with one input.
#[allow(dead_code)] // The fuzz targets use one function each; the replay test uses this table.
pub type Target = fn(&[u8]);

/// Every target: its name (the folder under corpus/ and artifacts/) and its function.
#[allow(dead_code)]
pub const TARGETS: [(&str, Target); 5] = [
    ("tiff", tiff),
    ("mrc", mrc),
    ("tilts", tilts),
    ("experiment", experiment),
    ("manifest", manifest),
];

/// A small valid experiment, for the manifest target to load with the fuzzed defaults.
const EXPERIMENT: &str = r#"
[particle]
name = "NC1"
voxel_nm = 2.0
mean_au_fraction = 0.22

[data]
times_s = [0.0, 15.0, 30.0]
reconstructions = ["a.tif", "b.tif", "c.tif"]
"#;

fn volume(data: &[u8], format: Format) {
    alloyfit::memory::set_budget_bytes(FUZZ_BUDGET_BYTES);
    if let Ok(file) = decode_volume(data, format) {
        let stored_bits = file.data.len() as u64 * 8;
        assert!(
            !file.data.is_empty() && stored_bits <= data.len() as u64 * 8 * 4096,
            "a {:?} volume from {} bytes",
            file.data.shape(),
            data.len()
        );
    }
}

pub fn tiff(data: &[u8]) {
    volume(data, Format::Tiff);
}

pub fn mrc(data: &[u8]) {
    volume(data, Format::Mrc);
}

pub fn tilts(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Path::new("fuzz.tlt");
    for angles in [
        tilts::parse_tilt_text(text, origin),
        tilts::parse_tilt_spec(text),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!angles.is_empty() && angles.iter().all(|a| a.is_finite()));
    }
}

pub fn experiment(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(experiment) = Experiment::parse(text, Path::new("fuzz.toml")) {
        assert!(experiment.particle.voxel_nm > 0.0);
    }
}

pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Manifest::parse(text, Path::new("manifest.toml"), |path, defaults| {
        Ok(LoadedExperiment {
            experiment: Experiment::parse_with_defaults(EXPERIMENT, path, defaults)?,
            path: path.to_owned(),
            dir: Path::new(".").to_owned(),
        })
    });
}
