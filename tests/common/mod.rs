//! Helpers shared by the integration tests.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloyfit::backend::gpu::GpuContext;
use alloyfit::backend::{DeviceChoice, DeviceRequest};

/// A GPU context for tests that compare a shader with its CPU twin.
///
/// A GPU test never passes by skipping: without an adapter it fails, unless the run sets
/// `ALLOYFIT_SKIP_GPU_TESTS=1` explicitly. `ALLOYFIT_TEST_ADAPTER` picks an adapter by name.
#[allow(dead_code)] // Used by the GPU tests, not by the tests that only run the binary.
pub fn gpu() -> Option<GpuContext> {
    if std::env::var("ALLOYFIT_SKIP_GPU_TESTS").as_deref() == Ok("1") {
        report_skip();
        return None;
    }
    let request = DeviceRequest {
        choice: DeviceChoice::Gpu,
        adapter: std::env::var("ALLOYFIT_TEST_ADAPTER").ok(),
    };
    match GpuContext::open(&request) {
        Ok(Some(context)) => {
            eprintln!("GPU test on {}", context.describe());
            Some(context)
        }
        Ok(None) => panic!("--device gpu returned no context"),
        Err(error) => panic!(
            "GPU tests need an adapter: {error:#}. Set ALLOYFIT_SKIP_GPU_TESTS=1 to skip them explicitly."
        ),
    }
}

/// Says on the terminal that a GPU test was skipped, and how many this test binary has skipped so
/// far. The harness still counts the test as passed, so the line goes to stderr directly, past the
/// harness's capture of `eprintln!`, where a run's log shows it.
#[allow(dead_code)]
fn report_skip() {
    static SKIPPED: AtomicUsize = AtomicUsize::new(0);
    let count = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a GPU test");
    // Best effort: a closed stderr must not fail the test run.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (ALLOYFIT_SKIP_GPU_TESTS=1): {test}, GPU test {count} skipped in this binary"
    );
}

/// Makes a tiny synthetic experiment of `phantom` in `dir/out` with the real binary on the CPU:
/// 4 nm voxels, times 0, 120 and 600 s, 5 SIRT iterations, D = 3e-19 m²/s. Seconds to make, and
/// a complete input for `quantify`, `fit` and `batch`.
#[allow(dead_code)] // Used by the tests that run the binary, not by the kernel tests.
pub fn tiny_experiment(dir: &std::path::Path, phantom: &str, out: &str) {
    run_on_cpu(
        dir,
        &[
            "synth",
            "--phantom",
            phantom,
            "--d",
            "3e-19",
            "--voxel-nm",
            "4",
            "--iterations",
            "5",
            "--times",
            "0,120,600",
            "--out",
            out,
        ],
    );
}

/// Writes the NC1 phantom at 4 nm to `dir/p.tif` and its mask to `dir/p_mask.tif`.
#[allow(dead_code)] // Used by the tests that run the binary, not by the kernel tests.
pub fn tiny_phantom(dir: &std::path::Path) {
    run_on_cpu(
        dir,
        &["phantom", "NC1", "--voxel-nm", "4", "--out", "p.tif"],
    );
}

/// Runs the binary in `dir` with `args` and `--device cpu`, which must succeed.
#[allow(dead_code)]
fn run_on_cpu(dir: &std::path::Path, args: &[&str]) {
    let args = [args, &["--device", "cpu"]].concat();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alloyfit"))
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
