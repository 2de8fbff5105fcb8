//! GPU faults injected through ALLOYFIT_GPU_FAULT on a real adapter (lavapipe in CI): under
//! `--device auto` the run says so and finishes on the CPU path with the CPU's exact result; under
//! `--device gpu` it fails naming the fault and writes nothing.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn alloyfit(args: &[&str], dir: &Path, fault: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alloyfit"));
    command.args(args).current_dir(dir);
    match fault {
        Some(fault) => command.env("ALLOYFIT_GPU_FAULT", fault),
        None => command.env_remove("ALLOYFIT_GPU_FAULT"),
    };
    command.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A phantom and its mask in `dir`, made on the CPU.
fn phantom(dir: &Path) {
    let args = [
        "phantom",
        "NC1",
        "--voxel-nm",
        "4",
        "--out",
        "p.tif",
        "--device",
        "cpu",
    ];
    let output = alloyfit(&args, dir, None);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn simulate(dir: &Path, out: &str, device: &str, adapter: &str, fault: Option<&str>) -> Output {
    let args = [
        "simulate",
        "--input",
        "p.tif",
        "--d",
        "1e-19",
        "--times",
        "0,10,1000",
        "--out",
        out,
        "--device",
        device,
        "--adapter",
        adapter,
    ];
    alloyfit(&args, dir, fault)
}

/// Each fault with the text its error must contain, and the warning auto gives.
const FAULTS: [(&str, &str); 3] = [
    ("shader", "diffusion.wgsl failed to compile"),
    ("out-of-memory", "ran out of memory allocating"),
    ("device-lost", "was lost"),
];

#[test]
fn injected_faults_fall_back_under_auto_and_fail_clearly_under_gpu() {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let adapter = gpu.summary().name.clone();
    drop(gpu);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    phantom(dir);
    let reference = simulate(dir, "cpu", "cpu", &adapter, None);
    assert!(reference.status.success(), "{}", text(&reference.stderr));
    let expected_csv = std::fs::read(dir.join("cpu/simulation.csv")).unwrap();
    for (fault, message) in FAULTS {
        let out = format!("auto-{fault}");
        let auto = simulate(dir, &out, "auto", &adapter, Some(fault));
        let stderr = text(&auto.stderr);
        assert!(auto.status.success(), "{fault} under auto: {stderr}");
        assert!(
            stderr.contains(message) && stderr.contains("warning:") && stderr.contains("CPU path"),
            "{fault} under auto gave no warning: {stderr}"
        );
        assert!(
            text(&auto.stdout).contains("on cpu"),
            "{}",
            text(&auto.stdout)
        );
        let csv = std::fs::read(dir.join(&out).join("simulation.csv")).unwrap();
        assert_eq!(
            csv, expected_csv,
            "{fault}: the CPU rerun differs from a CPU run"
        );

        let out = format!("gpu-{fault}");
        let strict = simulate(dir, &out, "gpu", &adapter, Some(fault));
        let stderr = text(&strict.stderr);
        assert!(!strict.status.success(), "{fault} under gpu succeeded");
        assert!(
            stderr.contains(message) && stderr.contains(&adapter),
            "{fault} under gpu: {stderr}"
        );
        assert!(!dir.join(&out).exists(), "{fault} under gpu left {out}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "staging left: {leftovers:?}");
}

#[test]
fn without_an_adapter_auto_runs_on_the_cpu_and_gpu_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    phantom(dir);
    let auto = alloyfit(
        &[
            "simulate", "--input", "p.tif", "--d", "1e-19", "--times", "0,10", "--out", "a",
        ],
        dir,
        Some("no-adapter"),
    );
    assert!(auto.status.success(), "{}", text(&auto.stderr));
    assert!(text(&auto.stderr).contains("no hardware GPU adapter found; running on the CPU path"));
    let strict = alloyfit(
        &[
            "simulate", "--input", "p.tif", "--d", "1e-19", "--times", "0,10", "--out", "g",
            "--device", "gpu",
        ],
        dir,
        Some("no-adapter"),
    );
    assert!(!strict.status.success());
    assert!(
        text(&strict.stderr).contains("no GPU adapter found"),
        "{}",
        text(&strict.stderr)
    );
    assert!(!dir.join("g").exists());
}

#[test]
fn a_fit_that_loses_its_gpu_finishes_on_the_cpu_under_auto() {
    let Some(gpu) = common::gpu() else {
        return;
    };
    let adapter = gpu.summary().name.clone();
    drop(gpu);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let synth = [
        "synth",
        "--phantom",
        "NC1",
        "--d",
        "3e-19",
        "--voxel-nm",
        "4",
        "--iterations",
        "5",
        "--times",
        "0,120,600",
        "--out",
        "exp",
        "--device",
        "cpu",
    ];
    let output = alloyfit(&synth, dir, None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let fit = |device: &str, out: &str| {
        let args = [
            "fit",
            "exp/experiment.toml",
            "--out",
            out,
            "--device",
            device,
            "--adapter",
            &adapter,
            "--quiet",
        ];
        alloyfit(&args, dir, Some("device-lost"))
    };
    let auto = fit("auto", "auto");
    assert!(auto.status.success(), "{}", text(&auto.stderr));
    assert!(
        text(&auto.stderr).contains("was lost"),
        "{}",
        text(&auto.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("auto/report.json")).unwrap()).unwrap();
    assert!(
        report["device"].as_str().unwrap().starts_with("cpu"),
        "{report}"
    );

    let strict = fit("gpu", "strict");
    assert!(!strict.status.success());
    assert!(
        text(&strict.stderr).contains("was lost"),
        "{}",
        text(&strict.stderr)
    );
    assert!(!dir.join("strict").exists());
}
