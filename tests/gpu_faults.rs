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

/// The name of the adapter the GPU tests use (`None` only when they are skipped explicitly).
fn test_adapter() -> Option<String> {
    common::gpu().map(|gpu| gpu.summary().name.clone())
}

#[test]
fn injected_faults_fall_back_under_auto_and_fail_clearly_under_gpu() {
    let Some(adapter) = test_adapter() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    common::tiny_phantom(dir);
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
    common::tiny_phantom(dir);
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
    let Some(adapter) = test_adapter() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    common::tiny_experiment(dir, "NC1", "exp");
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

/// Keeps the warnings a run gives.
#[derive(Default)]
struct Warnings(Vec<String>);

impl alloyfit::progress::Progress for Warnings {
    fn line(&mut self, _text: &str) {}
    fn warn(&mut self, text: &str) {
        self.0.push(text.to_owned());
    }
    fn step(
        &mut self,
        _stage: &str,
        _done: usize,
        _total: usize,
    ) -> Result<(), alloyfit::progress::Interrupted> {
        Ok(())
    }
}

#[test]
fn a_volume_over_the_adapter_limit_falls_back_under_auto_and_fails_under_gpu() {
    use alloyfit::backend::gpu::{GpuFault, find_fault};
    use alloyfit::backend::{DeviceChoice, DeviceRequest, Engine};
    use alloyfit::volume::{Mask, Volume};

    let Some(gpu) = common::gpu() else {
        return;
    };
    let summary = gpu.summary().clone();
    drop(gpu);
    let limit_bytes = summary
        .max_storage_buffer_binding_size
        .min(summary.max_buffer_size);
    // One slice just over the limit: the smallest volume this adapter cannot hold.
    let side = ((limit_bytes / 4) as f64).sqrt() as usize + 1;
    let volume = Volume::zeros([1, side, side], 1.0).unwrap();
    let mask = Mask::from_threshold(&volume, -1.0);
    let request = |choice| DeviceRequest {
        choice,
        adapter: Some(summary.name.clone()),
    };

    let mut warnings = Warnings::default();
    let mut engine = Engine::open(&request(DeviceChoice::Auto), &mut warnings).unwrap();
    let moments = engine
        .run(&mut warnings, |backend, _| {
            backend.masked_moments(&volume, &mask)
        })
        .unwrap();
    assert_eq!(moments.count, (side * side) as f64);
    assert_eq!(warnings.0.len(), 1, "{:?}", warnings.0);
    assert!(warnings.0[0].contains("CPU path"), "{:?}", warnings.0);

    let mut engine = Engine::open(&request(DeviceChoice::Gpu), &mut warnings).unwrap();
    let error = engine
        .run(&mut warnings, |backend, _| {
            backend.masked_moments(&volume, &mask)
        })
        .unwrap_err();
    assert!(
        matches!(find_fault(&error), Some(GpuFault::TooLarge { .. })),
        "{error:#}"
    );
    let message = format!("{error:#}");
    let needed = (side * side * 4).to_string();
    assert!(
        message.contains(&needed) && message.contains(&limit_bytes.to_string()),
        "the message names neither the size nor the limit: {message}"
    );
}
