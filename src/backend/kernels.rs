//! The kernel set that the orchestration (the SIRT loop, the imaging chain) is written over, once
//! for both backends: [`CpuKernels`] runs the reference functions on host vectors, [`GpuKernels`]
//! records the shaders on device buffers, so a whole chain stays where its backend keeps data.

use anyhow::{Result, bail};

use super::cpu::back_project::back_project;
use super::cpu::blur::{BlurParams, blur_pass};
use super::cpu::forward_project::forward_project;
use super::cpu::intensity::{IntensityParams, intensity};
use super::cpu::masked_moments::masked_moments;
use super::cpu::projector::{ProjectorParams, Ray};
use super::cpu::sirt_residual::sirt_residual;
use super::cpu::sirt_update::{SirtUpdateParams, sirt_update};
use super::cpu::smooth_noise::{SmoothNoiseParams, smooth_noise};
use super::gpu::{GpuContext, GpuGeometry, GpuMask, GpuVolume};
use super::{Field, Moments};

/// The kernels, on buffers kept where the backend keeps them. Projections use the tilt geometry the
/// implementation was made with.
pub trait Kernels {
    type Buffer;
    type Bits;
    fn upload(&self, samples: &[f32]) -> Result<Self::Buffer>;
    fn zeros(&self, len: usize) -> Result<Self::Buffer>;
    fn download(&self, buffer: &Self::Buffer) -> Result<Vec<f32>>;
    fn clear(&self, buffer: &mut Self::Buffer) -> Result<()>;
    fn upload_bits(&self, bits: &[u32], len: usize) -> Result<Self::Bits>;
    /// The buffer behind a field of this backend.
    fn field<'f>(&self, field: &'f Field) -> Result<&'f Self::Buffer>;
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
        mask: &Self::Bits,
        params: &SirtUpdateParams,
    ) -> Result<()>;
    fn moments(&self, values: &Self::Buffer, mask: &Self::Bits) -> Result<Moments>;
    fn intensity(
        &self,
        field: &Self::Buffer,
        params: &IntensityParams,
        out: &mut Self::Buffer,
    ) -> Result<()>;
    fn blur_pass(
        &self,
        input: &Self::Buffer,
        taps: &Self::Buffer,
        params: &BlurParams,
        output: &mut Self::Buffer,
    ) -> Result<()>;
    fn smooth_noise(
        &self,
        series: &mut Self::Buffer,
        normal: &Self::Buffer,
        inverse_dose: f32,
    ) -> Result<()>;
}

/// The CPU reference kernels for one tilt geometry.
pub struct CpuKernels {
    pub rays: Vec<Ray>,
    pub params: ProjectorParams,
}

impl Kernels for CpuKernels {
    type Buffer = Vec<f32>;
    type Bits = Vec<u32>;
    fn upload(&self, samples: &[f32]) -> Result<Vec<f32>> {
        Ok(samples.to_vec())
    }
    fn zeros(&self, len: usize) -> Result<Vec<f32>> {
        Ok(vec![0.0; len])
    }
    fn download(&self, buffer: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(buffer.clone())
    }
    fn clear(&self, buffer: &mut Vec<f32>) -> Result<()> {
        buffer.fill(0.0);
        Ok(())
    }
    fn upload_bits(&self, bits: &[u32], _len: usize) -> Result<Vec<u32>> {
        Ok(bits.to_vec())
    }
    fn field<'f>(&self, field: &'f Field) -> Result<&'f Vec<f32>> {
        match field {
            Field::Cpu(samples) => Ok(samples),
            Field::Gpu(_) => bail!("a GPU field reached the CPU kernels"),
        }
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
        mask: &Vec<u32>,
        params: &SirtUpdateParams,
    ) -> Result<()> {
        sirt_update(volume, back_projected, column_weights, mask, params);
        Ok(())
    }
    fn moments(&self, values: &Vec<f32>, mask: &Vec<u32>) -> Result<Moments> {
        Ok(masked_moments(values, mask))
    }
    fn intensity(
        &self,
        field: &Vec<f32>,
        params: &IntensityParams,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        intensity(field, params, out);
        Ok(())
    }
    fn blur_pass(
        &self,
        input: &Vec<f32>,
        taps: &Vec<f32>,
        params: &BlurParams,
        output: &mut Vec<f32>,
    ) -> Result<()> {
        blur_pass(input, taps, params, output);
        Ok(())
    }
    fn smooth_noise(
        &self,
        series: &mut Vec<f32>,
        normal: &Vec<f32>,
        inverse_dose: f32,
    ) -> Result<()> {
        let params = SmoothNoiseParams {
            len: 0,
            groups_per_row: 0,
            inverse_dose,
            padding: 0,
        };
        smooth_noise(series, normal, &params);
        Ok(())
    }
}

/// The shaders on one GPU for one tilt geometry; each call records and submits, nothing is read
/// back but the results asked for.
pub struct GpuKernels<'a> {
    pub gpu: &'a GpuContext,
    pub geometry: GpuGeometry,
}

impl<'a> GpuKernels<'a> {
    pub fn new(gpu: &'a GpuContext, rays: &[Ray], params: &ProjectorParams) -> Result<Self> {
        Ok(GpuKernels {
            gpu,
            geometry: gpu.upload_geometry(rays, params)?,
        })
    }

    fn run(&self, record: impl FnOnce(&mut wgpu::CommandEncoder)) -> Result<()> {
        let mut encoder = self.gpu.encoder();
        record(&mut encoder);
        self.gpu.submit(encoder);
        Ok(())
    }
}

impl Kernels for GpuKernels<'_> {
    type Buffer = GpuVolume;
    type Bits = GpuMask;
    fn upload(&self, samples: &[f32]) -> Result<GpuVolume> {
        self.gpu.upload_samples(samples)
    }
    fn zeros(&self, len: usize) -> Result<GpuVolume> {
        self.gpu.zeros(len)
    }
    fn download(&self, buffer: &GpuVolume) -> Result<Vec<f32>> {
        self.gpu.download(buffer)
    }
    fn clear(&self, buffer: &mut GpuVolume) -> Result<()> {
        self.run(|e| self.gpu.record_clear(e, buffer))
    }
    fn upload_bits(&self, bits: &[u32], len: usize) -> Result<GpuMask> {
        self.gpu.upload_bits(bits, len)
    }
    fn field<'f>(&self, field: &'f Field) -> Result<&'f GpuVolume> {
        match field {
            Field::Gpu(buffer) => Ok(buffer),
            Field::Cpu(_) => bail!("a CPU field reached the GPU kernels"),
        }
    }
    fn forward(&self, volume: &GpuVolume, series: &mut GpuVolume) -> Result<()> {
        self.run(|e| {
            self.gpu
                .record_forward_project(e, &self.geometry, volume, series)
        })
    }
    fn back(&self, series: &GpuVolume, volume: &mut GpuVolume) -> Result<()> {
        self.run(|e| {
            self.gpu
                .record_back_project(e, &self.geometry, series, volume)
        })
    }
    fn residual(
        &self,
        measured: &GpuVolume,
        projected: &GpuVolume,
        row_weights: &GpuVolume,
        residual: &mut GpuVolume,
        weighted: &mut GpuVolume,
    ) -> Result<()> {
        self.run(|e| {
            self.gpu
                .record_sirt_residual(e, [measured, projected, row_weights, residual, weighted])
        })
    }
    fn update(
        &self,
        volume: &mut GpuVolume,
        back_projected: &GpuVolume,
        column_weights: &GpuVolume,
        mask: &GpuMask,
        params: &SirtUpdateParams,
    ) -> Result<()> {
        self.run(|e| {
            self.gpu
                .record_sirt_update(e, [volume, back_projected, column_weights], mask, params)
        })
    }
    fn moments(&self, values: &GpuVolume, mask: &GpuMask) -> Result<Moments> {
        self.gpu.masked_moments(values, mask)
    }
    fn intensity(
        &self,
        field: &GpuVolume,
        params: &IntensityParams,
        out: &mut GpuVolume,
    ) -> Result<()> {
        self.run(|e| self.gpu.record_intensity(e, field, params, out))
    }
    fn blur_pass(
        &self,
        input: &GpuVolume,
        taps: &GpuVolume,
        params: &BlurParams,
        output: &mut GpuVolume,
    ) -> Result<()> {
        self.run(|e| self.gpu.record_blur_pass(e, input, taps, params, output))
    }
    fn smooth_noise(
        &self,
        series: &mut GpuVolume,
        normal: &GpuVolume,
        inverse_dose: f32,
    ) -> Result<()> {
        self.run(|e| {
            self.gpu
                .record_smooth_noise(e, series, normal, inverse_dose)
        })
    }
}
