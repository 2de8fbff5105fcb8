//! The bad-input suite: the real binary, every subcommand, inputs that are corrupt, truncated, of
//! the wrong type or shape, or physically meaningless. Each case must exit non-zero with a message
//! that names the file or the field at fault, leave every file it was given byte for byte as it
//! was, and write nothing (no output, no hidden staging file).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One bad input: what to break in a fresh copy of the fixture folder, the command, and the text
/// its error must contain.
struct Case {
    name: &'static str,
    setup: fn(&Path),
    args: &'static [&'static str],
    expected: &'static [&'static str],
}

fn nothing(_: &Path) {}

/// Replaces `from` with `to` in the tiny experiment's file (the text must be there).
fn edit_experiment(dir: &Path, from: &str, to: &str) {
    let path = dir.join("exp/experiment.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "'{from}' not in {text}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// An MRC2014 float32 volume of `shape` ([k, i, j]) filled with `value`, voxel 4 nm.
fn write_mrc(path: &Path, [nz, ny, nx]: [u32; 3], value: f32) {
    let mut bytes = vec![0u8; 1024];
    let mut put =
        |word: usize, value: [u8; 4]| bytes[4 * word..4 * word + 4].copy_from_slice(&value);
    for (index, n) in [nx, ny, nz].into_iter().enumerate() {
        put(index, n.to_le_bytes());
        put(7 + index, n.to_le_bytes());
        put(10 + index, (n as f32 * 40.0).to_le_bytes());
        put(16 + index, (index as i32 + 1).to_le_bytes());
    }
    put(3, 2i32.to_le_bytes());
    put(52, *b"MAP ");
    put(53, [0x44, 0x44, 0, 0]);
    for _ in 0..nx * ny * nz {
        bytes.extend(value.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// The shape ([k, i, j]) of the volume `file` in `dir`, as `alloyfit info` reads it.
fn shape_of(dir: &Path, file: &str) -> [u32; 3] {
    let output = alloyfit(&["info", file, "--json"], dir);
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let shape: Vec<u32> = info["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("no shape in {info}"))
        .iter()
        .map(|n| n.as_u64().unwrap() as u32)
        .collect();
    [shape[0], shape[1], shape[2]]
}

/// The shape of the tiny experiment's reconstructions.
fn reconstruction_shape(dir: &Path) -> [u32; 3] {
    shape_of(dir, "exp/recon_00_t0s.tif")
}

fn alloyfit(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_alloyfit"))
        .args(args)
        .current_dir(dir)
        .env_remove("ALLOYFIT_MEMORY_BUDGET")
        .env_remove("ALLOYFIT_GPU_FAULT")
        .output()
        .expect("the binary runs")
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    files
}

fn copy_folder(from: &Path, to: &Path) {
    for (relative, bytes) in snapshot(from) {
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

/// The fixture every case starts from: a phantom with its mask, and a tiny synthetic experiment
/// (NC1 at 4 nm, three times) in `exp/`.
fn fixture(dir: &Path) {
    common::tiny_phantom(dir);
    common::tiny_experiment(dir, "NC1", "exp");
    std::fs::write(dir.join("tilts.tlt"), "-60\n0\n60\n").unwrap();
}

const FIT: &[&str] = &[
    "fit",
    "exp/experiment.toml",
    "--out",
    "report",
    "--device",
    "cpu",
];
const QUANTIFY: &[&str] = &[
    "quantify",
    "exp/experiment.toml",
    "--out",
    "q",
    "--device",
    "cpu",
];
const SIMULATE: &[&str] = &[
    "simulate", "--input", "p.tif", "--mask", "m.mrc", "--d", "1e-19", "--out", "sim", "--device",
    "cpu",
];

const CASES: &[Case] = &[
    // Experiment files (fit and quantify).
    Case {
        name: "times not increasing",
        setup: |d| edit_experiment(d, "120.0,", "700.0,"),
        args: FIT,
        expected: &["experiment.toml", "data.times_s"],
    },
    Case {
        name: "negative lower D bound",
        setup: |d| {
            edit_experiment(
                d,
                "d_min_m2s = 0.000000000000000000001",
                "d_min_m2s = -1e-21",
            )
        },
        args: FIT,
        expected: &["experiment.toml", "fit.d_min_m2s"],
    },
    Case {
        name: "D bounds reversed",
        setup: |d| {
            edit_experiment(
                d,
                "d_min_m2s = 0.000000000000000000001",
                "d_min_m2s = 1e-15",
            )
        },
        args: FIT,
        expected: &["experiment.toml", "fit.d_min_m2s", "fit.d_max_m2s"],
    },
    Case {
        name: "beta above 1/6",
        setup: |d| edit_experiment(d, "[fit]\n", "[fit]\nbeta = 0.2\n"),
        args: FIT,
        expected: &["experiment.toml", "beta"],
    },
    Case {
        name: "zero SIRT iterations",
        setup: |d| edit_experiment(d, "sirt_iterations = 5", "sirt_iterations = 0"),
        args: FIT,
        expected: &["experiment.toml", "sirt_iterations"],
    },
    Case {
        name: "unknown key",
        setup: |d| edit_experiment(d, "[fit]\n", "[fit]\ntolerance_log10 = 1e-4\n"),
        args: FIT,
        expected: &["experiment.toml", "tolerance_log10"],
    },
    Case {
        name: "unknown start mask rule",
        setup: |d| edit_experiment(d, "start_mask = \"fitted\"", "start_mask = \"blurred\""),
        args: FIT,
        expected: &["experiment.toml", "start_mask", "smoothed", "fitted"],
    },
    Case {
        name: "start level out of range",
        setup: |d| edit_experiment(d, "start_level = 1.0", "start_level = 2.0"),
        args: FIT,
        expected: &["experiment.toml", "data.start_level", "[0.8, 1.2]", "2"],
    },
    Case {
        name: "start smoothing out of range",
        setup: |d| {
            edit_experiment(
                d,
                "start_smoothing_voxels = 0.7",
                "start_smoothing_voxels = 0.1",
            )
        },
        args: FIT,
        expected: &[
            "experiment.toml",
            "data.start_smoothing_voxels",
            "[0.5, 1.5]",
            "0.1",
        ],
    },
    Case {
        name: "wrong value type",
        setup: |d| edit_experiment(d, "voxel_nm = 4.0", "voxel_nm = \"four\""),
        args: QUANTIFY,
        expected: &["experiment.toml", "voxel_nm"],
    },
    Case {
        name: "Au fraction as a percentage",
        setup: |d| {
            let path = d.join("exp/experiment.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with("mean_au_fraction"))
                .unwrap();
            std::fs::write(&path, text.replace(line, "mean_au_fraction = 22.0")).unwrap();
        },
        args: QUANTIFY,
        expected: &["experiment.toml", "mean_au_fraction"],
    },
    Case {
        name: "TOML syntax error",
        setup: |d| edit_experiment(d, "[fit]", "[fit"),
        args: QUANTIFY,
        expected: &["experiment.toml", "line"],
    },
    Case {
        name: "empty experiment file",
        setup: |d| std::fs::write(d.join("exp/experiment.toml"), "").unwrap(),
        args: QUANTIFY,
        expected: &["experiment.toml", "particle"],
    },
    Case {
        name: "missing experiment file",
        setup: |d| std::fs::remove_file(d.join("exp/experiment.toml")).unwrap(),
        args: FIT,
        expected: &["experiment.toml"],
    },
    Case {
        name: "missing reconstruction",
        setup: |d| std::fs::remove_file(d.join("exp/recon_01_t120s.tif")).unwrap(),
        args: FIT,
        expected: &["recon_01_t120s.tif"],
    },
    Case {
        name: "truncated reconstruction",
        setup: |d| {
            let path = d.join("exp/recon_01_t120s.tif");
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        },
        args: FIT,
        expected: &["recon_01_t120s.tif"],
    },
    Case {
        name: "corrupt reconstruction",
        setup: |d| {
            let noise: Vec<u8> = (0..4096u32)
                .map(|n| (n.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect();
            std::fs::write(d.join("exp/recon_01_t120s.tif"), noise).unwrap();
        },
        args: QUANTIFY,
        expected: &["recon_01_t120s.tif"],
    },
    Case {
        name: "text file with a volume's name",
        setup: |d| std::fs::write(d.join("exp/recon_00_t0s.tif"), "t_s,alpha\n0,0\n").unwrap(),
        args: QUANTIFY,
        expected: &["recon_00_t0s.tif"],
    },
    Case {
        name: "NaN voxels in a reconstruction",
        setup: |d| {
            write_mrc(&d.join("exp/nan.mrc"), reconstruction_shape(d), f32::NAN);
            edit_experiment(d, "recon_01_t120s.tif", "nan.mrc");
        },
        args: FIT,
        expected: &["nan.mrc", "NaN"],
    },
    Case {
        name: "reconstruction of another shape",
        setup: |d| {
            let [k, i, j] = reconstruction_shape(d);
            write_mrc(&d.join("exp/small.mrc"), [k, i - 1, j], 0.5);
            edit_experiment(d, "recon_02_t600s.tif", "small.mrc");
        },
        args: QUANTIFY,
        expected: &["small.mrc", "shape"],
    },
    Case {
        name: "empty particle (all-zero first reconstruction)",
        setup: |d| {
            write_mrc(&d.join("exp/zero.mrc"), reconstruction_shape(d), 0.0);
            edit_experiment(d, "recon_00_t0s.tif", "zero.mrc");
        },
        args: FIT,
        expected: &["zero.mrc"],
    },
    Case {
        name: "report folder exists",
        setup: |d| {
            std::fs::create_dir(d.join("report")).unwrap();
            std::fs::write(d.join("report/notes.txt"), "precious").unwrap();
        },
        args: FIT,
        expected: &["report", "--force"],
    },
    Case {
        name: "report folder under a file",
        setup: |d| std::fs::write(d.join("plain"), "a file, not a folder").unwrap(),
        args: &[
            "fit",
            "exp/experiment.toml",
            "--out",
            "plain/report",
            "--device",
            "cpu",
        ],
        expected: &["plain/report"],
    },
    // simulate
    Case {
        name: "simulate: times not increasing",
        setup: |d| write_mrc(&d.join("m.mrc"), [1, 1, 1], 1.0),
        args: &[
            "simulate", "--input", "p.tif", "--d", "1e-19", "--times", "0,30,10", "--out", "sim",
        ],
        expected: &["--times"],
    },
    Case {
        name: "simulate: beta above 1/6",
        setup: nothing,
        args: &[
            "simulate", "--input", "p.tif", "--d", "1e-19", "--beta", "0.2", "--out", "sim",
        ],
        expected: &["--beta"],
    },
    Case {
        name: "simulate: negative D",
        setup: nothing,
        args: &[
            "simulate", "--input", "p.tif", "--d", "-1e-19", "--out", "sim",
        ],
        expected: &["--d"],
    },
    Case {
        name: "simulate: mask not matching the volume",
        setup: |d| write_mrc(&d.join("m.mrc"), [3, 4, 5], 1.0),
        args: SIMULATE,
        expected: &["m.mrc", "shapes differ"],
    },
    Case {
        name: "simulate: empty mask",
        setup: |d| write_mrc(&d.join("m.mrc"), shape_of(d, "p.tif"), 0.0),
        args: SIMULATE,
        expected: &["m.mrc", "empty"],
    },
    Case {
        name: "simulate: NaN voxels in the input",
        setup: |d| {
            write_mrc(&d.join("nan.mrc"), [4, 4, 4], f32::NAN);
            write_mrc(&d.join("m.mrc"), [4, 4, 4], 1.0);
        },
        args: &[
            "simulate", "--input", "nan.mrc", "--mask", "m.mrc", "--d", "1e-19", "--out", "sim",
        ],
        expected: &["nan.mrc"],
    },
    // project and reconstruct
    Case {
        name: "project: tilt file with a word in it",
        setup: |d| std::fs::write(d.join("tilts.tlt"), "-60\nzero\n60\n").unwrap(),
        args: &["project", "p.tif", "--tilts", "tilts.tlt", "--out", "s.mrc"],
        expected: &["tilts.tlt", "line 2"],
    },
    Case {
        name: "project: tilt range with zero step",
        setup: nothing,
        args: &["project", "p.tif", "--tilts", "0:10:0", "--out", "s.mrc"],
        expected: &["--tilts", "0:10:0"],
    },
    Case {
        name: "project: output exists",
        setup: |d| std::fs::write(d.join("s.mrc"), "earlier result").unwrap(),
        args: &["project", "p.tif", "--out", "s.mrc"],
        expected: &["s.mrc", "--force"],
    },
    Case {
        name: "reconstruct: zero iterations",
        setup: |d| write_mrc(&d.join("s.mrc"), [3, 4, 8], 1.0),
        args: &[
            "reconstruct",
            "s.mrc",
            "--tilts",
            "tilts.tlt",
            "--iterations",
            "0",
            "--out",
            "r.mrc",
        ],
        expected: &["--iterations"],
    },
    Case {
        name: "reconstruct: tilt count not matching the series",
        setup: |d| write_mrc(&d.join("s.mrc"), [4, 5, 8], 1.0),
        args: &[
            "reconstruct",
            "s.mrc",
            "--tilts",
            "tilts.tlt",
            "--out",
            "r.mrc",
        ],
        expected: &["s.mrc", "4 projections", "3 tilt angles"],
    },
    Case {
        name: "reconstruct: truncated MRC",
        setup: |d| {
            write_mrc(&d.join("s.mrc"), [4, 3, 8], 1.0);
            let bytes = std::fs::read(d.join("s.mrc")).unwrap();
            std::fs::write(d.join("s.mrc"), &bytes[..1100]).unwrap();
        },
        args: &[
            "reconstruct",
            "s.mrc",
            "--tilts",
            "tilts.tlt",
            "--out",
            "r.mrc",
        ],
        expected: &["s.mrc", "bytes"],
    },
    // info and the readers' limits
    Case {
        name: "info: unsupported MRC mode",
        setup: |d| {
            write_mrc(&d.join("v.mrc"), [2, 2, 2], 1.0);
            let mut bytes = std::fs::read(d.join("v.mrc")).unwrap();
            bytes[12..16].copy_from_slice(&4i32.to_le_bytes());
            std::fs::write(d.join("v.mrc"), bytes).unwrap();
        },
        args: &["info", "v.mrc"],
        expected: &["v.mrc", "mode 4"],
    },
    Case {
        name: "info: unknown extension",
        setup: |d| std::fs::write(d.join("v.raw"), [0u8; 64]).unwrap(),
        args: &["info", "v.raw"],
        expected: &["v.raw", "unknown volume format"],
    },
    Case {
        name: "info: volume over the memory budget",
        setup: |d| {
            // 1024³ float32: the data is a hole in a sparse file, so the test costs no disk.
            write_mrc(&d.join("big.mrc"), [1, 1, 1], 1.0);
            let mut bytes = std::fs::read(d.join("big.mrc")).unwrap();
            for word in [0, 1, 2] {
                bytes[4 * word..4 * word + 4].copy_from_slice(&1024u32.to_le_bytes());
            }
            let file = std::fs::File::create(d.join("big.mrc")).unwrap();
            std::io::Write::write_all(&mut &file, &bytes[..1024]).unwrap();
            file.set_len(1024 + 4 * 1024 * 1024 * 1024).unwrap();
        },
        args: &["info", "big.mrc", "--memory-budget", "1GiB"],
        expected: &["big.mrc", "memory budget"],
    },
    Case {
        name: "a memory budget that is not a size",
        setup: nothing,
        args: &["info", "p.tif", "--memory-budget", "lots"],
        expected: &["--memory-budget", "lots"],
    },
    // synth and phantom
    Case {
        name: "synth: negative D",
        setup: nothing,
        args: &["synth", "--phantom", "NC1", "--d", "-3e-19", "--out", "s"],
        expected: &["--d"],
    },
    Case {
        name: "phantom: grid beyond the memory budget",
        setup: nothing,
        args: &[
            "phantom",
            "NC1",
            "--voxel-nm",
            "0.2",
            "--out",
            "x.tif",
            "--memory-budget",
            "64MiB",
        ],
        expected: &["phantom grid", "memory budget"],
    },
    // batch, summarize, devices
    Case {
        name: "batch: unknown manifest key",
        setup: |d| {
            std::fs::write(
                d.join("m.toml"),
                "[[experiment]]\npath = \"exp/experiment.toml\"\nretries = 3\n",
            )
            .unwrap()
        },
        args: &["batch", "m.toml", "--out", "results"],
        expected: &["m.toml", "retries"],
    },
    Case {
        name: "batch: experiment with a missing reconstruction",
        setup: |d| {
            std::fs::write(
                d.join("m.toml"),
                "[[experiment]]\npath = \"exp/experiment.toml\"\n",
            )
            .unwrap();
            std::fs::remove_file(d.join("exp/recon_02_t600s.tif")).unwrap();
        },
        args: &["batch", "m.toml", "--out", "results"],
        expected: &["m.toml", "experiment 1", "recon_02_t600s.tif"],
    },
    Case {
        name: "batch: shard out of range",
        setup: |d| {
            std::fs::write(
                d.join("m.toml"),
                "[[experiment]]\npath = \"exp/experiment.toml\"\n",
            )
            .unwrap()
        },
        args: &["batch", "m.toml", "--out", "results", "--shard", "3/2"],
        expected: &["--shard", "3/2"],
    },
    Case {
        name: "summarize: no such folder",
        setup: nothing,
        args: &["summarize", "no-results"],
        expected: &["no-results"],
    },
    Case {
        name: "devices: no adapter of that name",
        setup: nothing,
        args: &["devices", "--device", "gpu", "--adapter", "no-such-adapter"],
        expected: &["no-such-adapter"],
    },
];

#[test]
fn every_bad_input_fails_naming_the_culprit_and_leaves_files_as_they_were() {
    let base = tempfile::tempdir().unwrap();
    fixture(base.path());
    let mut problems = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        copy_folder(base.path(), dir.path());
        (case.setup)(dir.path());
        let before = snapshot(dir.path());
        let output = alloyfit(case.args, dir.path());
        let error = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            problems.push(format!("{}: succeeded", case.name));
        }
        for text in case.expected {
            if !error.contains(text) {
                problems.push(format!("{}: '{text}' missing from: {error}", case.name));
            }
        }
        if snapshot(dir.path()) != before {
            let after: Vec<_> = snapshot(dir.path()).into_keys().collect();
            let was: Vec<_> = before.into_keys().collect();
            problems.push(format!(
                "{}: files changed or appeared: {after:?} (before: {was:?})",
                case.name
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases failed:\n{}",
        problems.len(),
        CASES.len(),
        problems.join("\n")
    );
}
