//! Helpers shared by the integration tests.

use alloyfit::backend::gpu::GpuContext;
use alloyfit::backend::{DeviceChoice, DeviceRequest};

/// A GPU context for tests that compare a shader with its CPU twin.
///
/// A GPU test never passes by skipping: without an adapter it fails, unless the run sets
/// `ALLOYFIT_SKIP_GPU_TESTS=1` explicitly. `ALLOYFIT_TEST_ADAPTER` picks an adapter by name.
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
