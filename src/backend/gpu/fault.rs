//! What can go wrong on a GPU that is not the input's fault, as one typed error that the backend
//! choice branches on (`--device auto` reruns on the CPU path, `--device gpu` stops), and the
//! faults tests can inject through [`FAULT_ENV`] to exercise those paths on any adapter.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use thiserror::Error;

/// The environment variable that injects a fault: one of [`InjectedFault`]'s names.
pub const FAULT_ENV: &str = "ALLOYFIT_GPU_FAULT";

/// A GPU failure. Messages name the adapter and, for sizes, the numbers and the limit.
#[derive(Debug, Error)]
pub enum GpuFault {
    #[error(
        "no GPU adapter found; install a driver (for a software GPU on Debian/Ubuntu: apt-get install mesa-vulkan-drivers) or use --device cpu"
    )]
    NoAdapter,
    #[error(
        "no GPU adapter matches '{filter}'; adapters found: [{found}] (see `alloyfit devices`)"
    )]
    NoMatchingAdapter { filter: String, found: String },
    #[error("cannot open a device on adapter {adapter}: {reason}")]
    OpenFailed { adapter: String, reason: String },
    #[error("shader {shader}.wgsl failed to compile on adapter {adapter}: {reason}")]
    ShaderCompilation {
        shader: String,
        adapter: String,
        reason: String,
    },
    #[error(
        "adapter {adapter} ran out of memory allocating {what} ({})",
        crate::memory::human_bytes(*.bytes)
    )]
    OutOfMemory {
        adapter: String,
        what: String,
        bytes: u64,
    },
    #[error("{what}; use --device cpu or a coarser voxel size")]
    TooLarge { what: String },
    #[error("the GPU device on adapter {adapter} was lost: {reason}")]
    DeviceLost { adapter: String, reason: String },
}

/// Finds a [`GpuFault`] anywhere in an error's chain of causes and contexts.
pub fn find_fault(error: &anyhow::Error) -> Option<&GpuFault> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<GpuFault>())
}

/// A fault to inject, from [`FAULT_ENV`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFault {
    /// `no-adapter`: no adapter is found.
    NoAdapter,
    /// `shader`: the diffusion shader's source is corrupted, so the driver's compiler rejects it.
    Shader,
    /// `out-of-memory`: every buffer allocation reports that the device is out of memory.
    OutOfMemory,
    /// `device-lost`: the device is destroyed after [`LOST_AFTER_SUBMITS`] submits, mid-run.
    DeviceLost,
}

/// Submits before an injected device loss: past the first kernels, well before any run ends.
pub const LOST_AFTER_SUBMITS: usize = 3;

impl InjectedFault {
    /// The fault [`FAULT_ENV`] asks for, read once per process; an unknown name is reported
    /// once and ignored.
    pub fn from_env() -> Option<InjectedFault> {
        static INJECTED: OnceLock<Option<InjectedFault>> = OnceLock::new();
        *INJECTED.get_or_init(|| {
            let name = std::env::var(FAULT_ENV)
                .ok()
                .filter(|name| !name.is_empty())?;
            InjectedFault::named(&name)
        })
    }

    fn named(name: &str) -> Option<InjectedFault> {
        let fault = match name {
            "no-adapter" => InjectedFault::NoAdapter,
            "shader" => InjectedFault::Shader,
            "out-of-memory" => InjectedFault::OutOfMemory,
            "device-lost" => InjectedFault::DeviceLost,
            _ => {
                eprintln!(
                    "warning: {FAULT_ENV}={name} is not a fault alloyfit can inject (no-adapter, shader, out-of-memory, device-lost); ignored"
                );
                return None;
            }
        };
        Some(fault)
    }
}

/// Why the device stopped working, as its callbacks reported it: set once, read at every sync.
#[derive(Debug, Clone, Default)]
pub struct DeviceHealth {
    failure: Arc<Mutex<Option<String>>>,
}

impl DeviceHealth {
    /// Routes the device's loss and its uncaptured errors here (instead of wgpu's default, which
    /// panics), so that the next sync point turns them into a [`GpuFault::DeviceLost`].
    pub fn watch(device: &wgpu::Device) -> DeviceHealth {
        let health = DeviceHealth::default();
        let lost = health.clone();
        device.set_device_lost_callback(move |reason, message| {
            lost.record(match message.is_empty() {
                true => format!("{reason:?}"),
                false => format!("{reason:?}: {message}"),
            });
        });
        let failed = health.clone();
        device.on_uncaptured_error(Arc::new(move |error| failed.record(error.to_string())));
        health
    }

    fn record(&self, reason: String) {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(reason);
    }

    /// The first failure the device reported, if any.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
