//! Helpers shared by the integration tests.

use alloyfit::backend::gpu::GpuContext;
use alloyfit::backend::{DeviceChoice, DeviceRequest};

/// A GPU context for tests that compare a shader with its CPU twin.
///
/// A GPU test never passes by skipping: without an adapter it fails, unless the run sets
/// `ALLOYFIT_SKIP_GPU_TESTS=1` explicitly. `ALLOYFIT_TEST_ADAPTER` picks an adapter by name.
#[allow(dead_code)] // Used by the GPU tests, not by the tests that only run the binary.
pub fn gpu() -> Option<GpuContext> {
    if std::env::var("ALLOYFIT_SKIP_GPU_TESTS").as_deref() == Ok("1") {
        eprintln!("GPU test skipped: ALLOYFIT_SKIP_GPU_TESTS=1");
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
