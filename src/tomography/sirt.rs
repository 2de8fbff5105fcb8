//! SIRT as the ASTRA Toolbox defines it (DESIGN.md §4.3): x ← clamp(x + λ·C ⊙ Aᵀ(R ⊙ (p − A x))),
//! R = 1/(A·1), C = 1/(Aᵀ·1) (0 where a sum is below 1e-6), x₀ = 0, a fixed number of iterations.
//! The iteration is written once over [`SirtKernels`]; on the GPU every buffer stays on the device
//! for the whole run and only the residual norms (on request) and the result come back.

use anyhow::{Result, bail, ensure};
use ndarray::Array3;

use super::{TiltGeometry, TiltSeries};
use crate::backend::Backend;
use crate::backend::cpu::back_project::back_project;
use crate::backend::cpu::forward_project::forward_project;
use crate::backend::cpu::masked_moments::masked_moments;
use crate::backend::cpu::projector::{ProjectorParams, Ray};
use crate::backend::cpu::sirt_residual::sirt_residual;
use crate::backend::cpu::sirt_update::{SirtUpdateParams, sirt_update};
use crate::backend::gpu::{GpuContext, GpuGeometry, GpuMask, GpuVolume};
use crate::volume::{Mask, Volume, check_same_grid};

/// Sums of A·1 or Aᵀ·1 below this get weight 0 (ASTRA's rule: such rays or voxels are unseen).
const MIN_WEIGHT_SUM: f32 = 1e-6;

/// SIRT's options, with ASTRA's names in the docs.
#[derive(Debug, Clone, PartialEq)]
pub struct SirtOptions {
    pub iterations: usize,
    /// λ (ASTRA: `Relaxation`).
    pub relaxation: f32,
    /// Box constraint (ASTRA: `MinConstraint`, `MaxConstraint`).
    pub min_value: Option<f32>,
    pub max_value: Option<f32>,
    /// Voxels outside stay 0 (ASTRA: `ReconstructionMaskId`).
    pub mask: Option<Mask>,
    /// Record ‖p − A x‖₂ before each update.
    pub record_residuals: bool,
}

impl Default for SirtOptions {
    fn default() -> Self {
        Self {
            iterations: 50,
            relaxation: 1.0,
            min_value: Some(0.0),
            max_value: None,
            mask: None,
            record_residuals: false,
        }
    }
}

/// A reconstruction and, if asked for, the residual norm ‖p − A xₙ‖₂ of each iterate x₀ … x_{N−1}.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    pub volume: Volume,
    pub residual_norms: Vec<f64>,
}

/// The kernels one SIRT iteration needs, on buffers kept where the backend keeps them.
trait SirtKernels {
    type Buffer;
    fn upload(&self, samples: &[f32]) -> Result<Self::Buffer>;
    fn zeros(&self, len: usize) -> Result<Self::Buffer>;
    fn download(&self, buffer: &Self::Buffer) -> Result<Vec<f32>>;
    fn forward(&self, volume: &Self::Buffer, series: &mut Self::Buffer) -> Result<()>;
    fn back(&self, series: &Self::Buffer, volume: &mut Self::Buffer) -> Result<()>;
    fn residual(
        &self,
        measured: &Self::Buffer,
        projected: &Self::Buffer,
        row_weights: &Self::Buffer,
        residual: &mut Self::Buffer,
        weighted: &mut Self::Buffer,
    ) -> Result<()>;
    fn update(
        &self,
        volume: &mut Self::Buffer,
        back_projected: &Self::Buffer,
        column_weights: &Self::Buffer,
        params: &SirtUpdateParams,
    ) -> Result<()>;
    fn sum_of_squares(&self, series: &Self::Buffer) -> Result<f64>;
}

/// 1/sum where the sum is at least [`MIN_WEIGHT_SUM`], else 0.
fn reciprocal_weights(sums: Vec<f32>) -> Vec<f32> {
    sums.into_iter()
        .map(|s| if s >= MIN_WEIGHT_SUM { 1.0 / s } else { 0.0 })
        .collect()
}

fn run<K: SirtKernels>(
    kernels: &K,
    measured: &[f32],
    volume_len: usize,
    options: &SirtOptions,
    update: &SirtUpdateParams,
    progress: &mut dyn FnMut(usize),
) -> Result<(Vec<f32>, Vec<f64>)> {
    let series_len = measured.len();
    let measured = kernels.upload(measured)?;
    let mut projected = kernels.zeros(series_len)?;
    let mut residual = kernels.zeros(series_len)?;
    let mut weighted = kernels.zeros(series_len)?;
    let mut back_projected = kernels.zeros(volume_len)?;

    // R and C from projections of ones, computed once.
    kernels.forward(&kernels.upload(&vec![1.0; volume_len])?, &mut projected)?;
    let row_weights = kernels.upload(&reciprocal_weights(kernels.download(&projected)?))?;
    kernels.back(
        &kernels.upload(&vec![1.0; series_len])?,
        &mut back_projected,
    )?;
    let column_weights = kernels.upload(&reciprocal_weights(kernels.download(&back_projected)?))?;

    let mut volume = kernels.zeros(volume_len)?;
    let mut norms = Vec::new();
    for iteration in 0..options.iterations {
        kernels.forward(&volume, &mut projected)?;
        kernels.residual(
            &measured,
            &projected,
            &row_weights,
            &mut residual,
            &mut weighted,
        )?;
        if options.record_residuals {
            norms.push(kernels.sum_of_squares(&residual)?.sqrt());
        }
        kernels.back(&weighted, &mut back_projected)?;
        kernels.update(&mut volume, &back_projected, &column_weights, update)?;
        progress(iteration + 1);
    }
    Ok((kernels.download(&volume)?, norms))
}

struct CpuKernels {
    rays: Vec<Ray>,
    params: ProjectorParams,
    mask_bits: Vec<u32>,
}

impl SirtKernels for CpuKernels {
    type Buffer = Vec<f32>;
    fn upload(&self, samples: &[f32]) -> Result<Vec<f32>> {
        Ok(samples.to_vec())
    }
    fn zeros(&self, len: usize) -> Result<Vec<f32>> {
        Ok(vec![0.0; len])
    }
    fn download(&self, buffer: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(buffer.clone())
    }
    fn forward(&self, volume: &Vec<f32>, series: &mut Vec<f32>) -> Result<()> {
        forward_project(volume, &self.rays, &self.params, series);
        Ok(())
    }
    fn back(&self, series: &Vec<f32>, volume: &mut Vec<f32>) -> Result<()> {
        back_project(series, &self.rays, &self.params, volume);
        Ok(())
    }
    fn residual(
        &self,
        measured: &Vec<f32>,
        projected: &Vec<f32>,
        row_weights: &Vec<f32>,
        residual: &mut Vec<f32>,
        weighted: &mut Vec<f32>,
    ) -> Result<()> {
        sirt_residual(measured, projected, row_weights, residual, weighted);
        Ok(())
    }
    fn update(
        &self,
        volume: &mut Vec<f32>,
        back_projected: &Vec<f32>,
        column_weights: &Vec<f32>,
        params: &SirtUpdateParams,
    ) -> Result<()> {
        sirt_update(
            volume,
            back_projected,
            column_weights,
            &self.mask_bits,
            params,
        );
        Ok(())
    }
    fn sum_of_squares(&self, series: &Vec<f32>) -> Result<f64> {
        Ok(masked_moments(series, &vec![u32::MAX; series.len().div_ceil(32)]).sum_sq)
    }
}

struct GpuKernels<'a> {
    gpu: &'a GpuContext,
    geometry: GpuGeometry,
    mask: GpuMask,
    series_ones: GpuMask,
}

impl SirtKernels for GpuKernels<'_> {
    type Buffer = GpuVolume;
    fn upload(&self, samples: &[f32]) -> Result<GpuVolume> {
        self.gpu.upload_samples(samples)
    }
    fn zeros(&self, len: usize) -> Result<GpuVolume> {
        self.gpu.zeros(len)
    }
    fn download(&self, buffer: &GpuVolume) -> Result<Vec<f32>> {
        self.gpu.download(buffer)
    }
    fn forward(&self, volume: &GpuVolume, series: &mut GpuVolume) -> Result<()> {
        let mut encoder = self.gpu.encoder();
        self.gpu
            .record_forward_project(&mut encoder, &self.geometry, volume, series);
        self.gpu.submit(encoder);
        Ok(())
    }
    fn back(&self, series: &GpuVolume, volume: &mut GpuVolume) -> Result<()> {
        let mut encoder = self.gpu.encoder();
        self.gpu
            .record_back_project(&mut encoder, &self.geometry, series, volume);
        self.gpu.submit(encoder);
        Ok(())
    }
    fn residual(
        &self,
        measured: &GpuVolume,
        projected: &GpuVolume,
        row_weights: &GpuVolume,
        residual: &mut GpuVolume,
        weighted: &mut GpuVolume,
    ) -> Result<()> {
        let mut encoder = self.gpu.encoder();
        self.gpu.record_sirt_residual(
            &mut encoder,
            [measured, projected, row_weights, residual, weighted],
        );
        self.gpu.submit(encoder);
        Ok(())
    }
    fn update(
        &self,
        volume: &mut GpuVolume,
        back_projected: &GpuVolume,
        column_weights: &GpuVolume,
        params: &SirtUpdateParams,
    ) -> Result<()> {
        let mut encoder = self.gpu.encoder();
        self.gpu.record_sirt_update(
            &mut encoder,
            [volume, back_projected, column_weights],
            &self.mask,
            params,
        );
        self.gpu.submit(encoder);
        Ok(())
    }
    fn sum_of_squares(&self, series: &GpuVolume) -> Result<f64> {
        Ok(self.gpu.masked_moments(series, &self.series_ones)?.sum_sq)
    }
}

/// Reconstructs a volume of `shape` from `series` with SIRT; `progress(n)` after iteration n.
pub fn sirt(
    backend: &Backend,
    series: &TiltSeries,
    geometry: &TiltGeometry,
    shape: [usize; 3],
    voxel_nm: f64,
    options: &SirtOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Reconstruction> {
    ensure!(options.iterations > 0, "SIRT needs at least one iteration");
    ensure!(
        options.relaxation.is_finite() && options.relaxation > 0.0,
        "SIRT relaxation must be a positive number, got {}",
        options.relaxation
    );
    let min_value = options.min_value.unwrap_or(f32::NEG_INFINITY);
    let max_value = options.max_value.unwrap_or(f32::INFINITY);
    if min_value.is_nan() || max_value.is_nan() || min_value > max_value {
        bail!("SIRT constraint min {min_value} must not exceed max {max_value}");
    }
    let expected = geometry.series_shape(shape);
    ensure!(
        series.shape() == expected,
        "tilt series has shape {:?} but {} angles, {} slices and a {}-pixel detector give {expected:?} ([angle, k, m])",
        series.shape(),
        expected[0],
        expected[1],
        expected[2]
    );
    if let Some(bad) = series.iter().find(|v| !v.is_finite()) {
        bail!("the tilt series holds a non-finite value ({bad}); SIRT needs finite data");
    }
    let mask_bits = match &options.mask {
        Some(mask) => {
            check_same_grid(
                "reconstruction and its mask",
                (shape, voxel_nm),
                mask.grid(),
            )?;
            mask.to_bits()
        }
        None => vec![u32::MAX; shape.iter().product::<usize>().div_ceil(32)],
    };
    let update = SirtUpdateParams {
        len: 0,
        groups_per_row: 0,
        relaxation: options.relaxation,
        min_value,
        max_value,
        padding: [0; 3],
    };
    let measured = series.as_standard_layout();
    let measured = measured.as_slice().expect("standard layout");
    let volume_len: usize = shape.iter().product();
    let rays = geometry.rays();
    let params = geometry.params(shape)?;
    let (voxels, residual_norms) = match backend {
        Backend::Cpu => {
            let kernels = CpuKernels {
                rays,
                params,
                mask_bits,
            };
            run(&kernels, measured, volume_len, options, &update, progress)?
        }
        Backend::Gpu(gpu) => {
            let kernels = GpuKernels {
                gpu,
                geometry: gpu.upload_geometry(&rays, &params)?,
                mask: gpu.upload_bits(&mask_bits, volume_len)?,
                series_ones: gpu
                    .upload_bits(&vec![u32::MAX; measured.len().div_ceil(32)], measured.len())?,
            };
            run(&kernels, measured, volume_len, options, &update, progress)?
        }
    };
    Ok(Reconstruction {
        volume: Volume::new(Array3::from_shape_vec(shape, voxels)?, voxel_nm)?,
        residual_norms,
    })
}
