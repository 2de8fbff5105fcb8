//! The heavy kernels behind one interface, [`Kernels`], with two implementations
//! (docs/ARCHITECTURE.md): the CPU's, [`cpu`] (the readable reference, a twin per shader) with
//! [`fast`] (vectorised and fused versions of the hottest twins), and [`gpu`], wgpu + WGSL with the
//! data kept on the device. This module owns the choice between them (`--device auto|gpu|cpu`,
//! `--adapter`), the dispatch of work written over [`Kernels`] ([`Backend::dispatch`]), and the
//! small results that cross between host and device. Nothing outside it names a backend's kernels.

pub mod cpu;
pub mod fast;
pub mod gpu;
pub mod kernels;

use anyhow::Result;

pub use cpu::blur::BlurParams;
pub use cpu::diffusion::{DiffusionParams, OUTSIDE};
pub use cpu::grid::Grid;
pub use cpu::intensity::IntensityParams;
pub use cpu::projector::{ProjectorParams, Ray};
pub use cpu::sirt_update::SirtUpdateParams;
pub use kernels::{CpuKernels, GpuKernels, Kernels};

use crate::progress::Progress;
use crate::volume::{Mask, Volume, check_same_grid};

/// Which backend the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A hardware GPU if there is one, otherwise the CPU path.
    #[default]
    Auto,
    /// Any GPU adapter, software ones (lavapipe) included; fail if there is none.
    Gpu,
    /// The CPU reference path.
    Cpu,
}

/// The user's device request: the choice and an optional adapter-name filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRequest {
    pub choice: DeviceChoice,
    /// Case-insensitive substring of the adapter name.
    pub adapter: Option<String>,
}

/// The backend a run uses.
pub enum Backend {
    Cpu,
    Gpu(Box<gpu::GpuContext>),
}

impl Backend {
    /// Opens the backend that `request` asks for.
    pub fn open(request: &DeviceRequest) -> Result<Backend> {
        Ok(match gpu::GpuContext::open(request)? {
            Some(context) => Backend::Gpu(Box::new(context)),
            None => Backend::Cpu,
        })
    }

    /// A short description for logs and reports, e.g. `gpu: NVIDIA H100 (Vulkan)`.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu => format!("cpu: {} threads", rayon::current_num_threads()),
            Backend::Gpu(context) => format!("gpu: {}", context.describe()),
        }
    }

    /// Runs `work` on this backend's kernels.
    pub fn dispatch<W: KernelWork>(&self, work: W) -> Result<W::Output> {
        match self {
            Backend::Cpu => work.run(&CpuKernels),
            Backend::Gpu(gpu) => work.run(&GpuKernels { gpu }),
        }
    }

    /// Count, sum and sum of squares of `volume` inside `mask`.
    pub fn masked_moments(&self, volume: &Volume, mask: &Mask) -> Result<Moments> {
        check_same_grid("volume and mask", volume.grid(), mask.grid())?;
        self.moments_in(volume.as_slice(), &mask.to_bits())
    }

    /// Count, sum and sum of squares of `samples` inside the mask of `bits` ([`Mask::to_bits`]).
    pub fn moments_in(&self, samples: &[f32], bits: &[u32]) -> Result<Moments> {
        struct MomentsIn<'s>(&'s [f32], &'s [u32]);
        impl KernelWork for MomentsIn<'_> {
            type Output = Moments;
            fn run<K: Kernels>(self, kernels: &K) -> Result<Moments> {
                let MomentsIn(samples, bits) = self;
                let values = kernels.upload(samples)?;
                let mask = kernels.upload_bits(bits, samples.len())?;
                kernels.moments_in(kernels.encoder(), &values, &mask)
            }
        }
        self.dispatch(MomentsIn(samples, bits))
    }

    /// `samples` on a grid of `shape` after the separable blur with `taps` (zero beyond the grid).
    pub fn blur(&self, samples: &[f32], shape: [usize; 3], taps: &[f32]) -> Result<Vec<f32>> {
        struct Blur<'s> {
            samples: &'s [f32],
            shape: [usize; 3],
            taps: &'s [f32],
        }
        impl KernelWork for Blur<'_> {
            type Output = Vec<f32>;
            fn run<K: Kernels>(self, k: &K) -> Result<Vec<f32>> {
                let taps = k.upload(self.taps)?;
                let mut values = k.upload(self.samples)?;
                let mut scratch = k.zeros(self.samples.len())?;
                let radius = (self.taps.len() / 2) as u32;
                let mut encoder = k.encoder();
                kernels::blur(
                    k,
                    &mut encoder,
                    self.shape,
                    &taps,
                    radius,
                    &mut values,
                    &mut scratch,
                );
                k.download(encoder, &values)
            }
        }
        self.dispatch(Blur {
            samples,
            shape,
            taps,
        })
    }
}

/// Work written once over [`Kernels`]: [`Backend::dispatch`] runs it on the backend in use.
pub trait KernelWork {
    type Output;
    fn run<K: Kernels>(self, kernels: &K) -> Result<Self::Output>;
}

/// The backend of a run with its fallback policy: under `--device auto` a GPU fault (see
/// [`gpu::GpuFault`]) is a warning and the work reruns on the CPU path, which the rest of the run
/// keeps; under `--device gpu` it is the error.
pub struct Engine {
    choice: DeviceChoice,
    backend: Backend,
}

impl Engine {
    /// Opens the backend `request` asks for, falling back to the CPU under auto.
    pub fn open<P: Progress + ?Sized>(request: &DeviceRequest, progress: &mut P) -> Result<Engine> {
        let backend = match Backend::open(request) {
            Ok(Backend::Cpu) if request.choice == DeviceChoice::Auto => {
                progress.line(&match &request.adapter {
                    Some(filter) => {
                        format!("no GPU adapter matches '{filter}'; running on the CPU path")
                    }
                    None => "no hardware GPU adapter found; running on the CPU path".to_owned(),
                });
                Backend::Cpu
            }
            Ok(backend) => backend,
            Err(error)
                if request.choice == DeviceChoice::Auto && gpu::find_fault(&error).is_some() =>
            {
                progress.warn(&format!("{error:#}; running on the CPU path instead"));
                Backend::Cpu
            }
            Err(error) => return Err(error),
        };
        Ok(Engine {
            choice: request.choice,
            backend,
        })
    }

    /// The backend work runs on now.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Runs `work`; if it fails with a GPU fault under auto, warns and runs it again on the CPU.
    /// `work` must leave nothing behind when it fails, since it may run twice.
    pub fn run<P: Progress + ?Sized, T>(
        &mut self,
        progress: &mut P,
        mut work: impl FnMut(&Backend, &mut P) -> Result<T>,
    ) -> Result<T> {
        match work(&self.backend, progress) {
            Err(error)
                if self.choice == DeviceChoice::Auto
                    && matches!(self.backend, Backend::Gpu(_))
                    && gpu::find_fault(&error).is_some() =>
            {
                progress.warn(&format!("{error:#}; running again on the CPU path"));
                self.backend = Backend::Cpu;
                work(&self.backend, progress)
            }
            result => result,
        }
    }
}

/// Count, sum and sum of squares of masked voxels, accumulated in f64.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Moments {
    pub count: f64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    /// Adds per-workgroup partials (count, sum, sum of squares) in f64.
    pub fn from_partials(partials: impl IntoIterator<Item = [f32; 3]>) -> Moments {
        partials
            .into_iter()
            .fold(Moments::default(), |acc, [count, sum, sum_sq]| Moments {
                count: acc.count + f64::from(count),
                sum: acc.sum + f64::from(sum),
                sum_sq: acc.sum_sq + f64::from(sum_sq),
            })
    }

    pub fn mean(&self) -> f64 {
        self.sum / self.count
    }

    /// Coefficient of variation std/mean (the spread statistic S, docs/METHOD.md §4.4).
    pub fn coefficient_of_variation(&self) -> f64 {
        self.std() / self.mean()
    }

    /// Population standard deviation.
    pub fn std(&self) -> f64 {
        let mean = self.mean();
        (self.sum_sq / self.count - mean * mean).max(0.0).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_refuse_a_mask_of_another_grid() {
        let volume = Volume::zeros([2, 3, 4], 1.0).unwrap();
        let mask = Mask::from_threshold(&Volume::zeros([2, 4, 3], 1.0).unwrap(), 0.5);
        let error = Backend::Cpu.masked_moments(&volume, &mask).unwrap_err();
        assert!(error.to_string().contains("shapes differ"), "{error}");
        let finer = Mask::from_threshold(&Volume::zeros([2, 3, 4], 0.5).unwrap(), 0.5);
        let error = Backend::Cpu.masked_moments(&volume, &finer).unwrap_err();
        assert!(error.to_string().contains("voxel sizes differ"), "{error}");
    }
}
