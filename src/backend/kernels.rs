//! The one kernel interface (docs/ARCHITECTURE.md): every kernel the orchestration uses (diffusion
//! steps, copies, the imaging chain, projections, SIRT, noise, moments) is a method of [`Kernels`].
//! [`CpuKernels`] runs the reference functions of [`super::cpu`], or their fast versions in
//! [`super::fast`] where those exist, on host vectors as they are called; [`GpuKernels`] records
//! the shaders into a command encoder that the caller owns and submits, so a whole SIRT run or a
//! batch of diffusion steps goes to the device in one submit. Reading a result back takes the
//! encoder by value: pending work always runs before the read.

use anyhow::{Result, ensure};

use super::Moments;
use super::cpu::blur::{BlurParams, blur_pass};
use super::cpu::intensity::{IntensityParams, intensity};
use super::cpu::masked_moments::masked_moments;
use super::cpu::projector::{ProjectorParams, Ray};
use super::cpu::sirt_residual::sirt_residual;
use super::cpu::sirt_update::{SirtUpdateParams, sirt_update};
use super::cpu::smooth_noise::{SmoothNoiseParams, smooth_noise};
use super::fast::back_project::back_project;
use super::fast::diffusion::{diffusion_step, diffusion_steps};
use super::fast::forward_project::forward_project;
use super::fast::projector::RayTable;
use super::gpu::{GpuContext, GpuEncoder, GpuGeometry, GpuMask, GpuVolume};

/// The kernels, on buffers kept where the backend keeps them.
pub trait Kernels {
    /// f32 samples (a volume, a tilt series, a field).
    type Buffer;
    /// Mask bits, as [`crate::volume::Mask::to_bits`].
    type Bits;
    /// A tilt geometry: the rays and the projector's sizes.
    type Geometry;
    /// Kernels recorded and not yet run.
    type Encoder;

    fn encoder(&self) -> Self::Encoder;
    /// Runs what `encoder` holds (on the GPU: one queue submit).
    fn submit(&self, encoder: Self::Encoder);

    fn upload(&self, samples: &[f32]) -> Result<Self::Buffer>;
    fn zeros(&self, len: usize) -> Result<Self::Buffer>;
    fn upload_bits(&self, bits: &[u32], len: usize) -> Result<Self::Bits>;
    fn geometry(&self, rays: &[Ray], params: &ProjectorParams) -> Result<Self::Geometry>;
    /// Runs `encoder`, then reads `buffer` back.
    fn download(&self, encoder: Self::Encoder, buffer: &Self::Buffer) -> Result<Vec<f32>>;
    /// Runs `encoder`, then returns count, sum and sum of squares of `values` inside each of
    /// `masks` (on the GPU: in the same submit).
    fn moments(
        &self,
        encoder: Self::Encoder,
        values: &Self::Buffer,
        masks: &[&Self::Bits],
    ) -> Result<Vec<Moments>>;
    /// [`Kernels::moments`] inside one mask.
    fn moments_in(
        &self,
        encoder: Self::Encoder,
        values: &Self::Buffer,
        mask: &Self::Bits,
    ) -> Result<Moments> {
        let [moments] = self.moments(encoder, values, &[mask])?[..] else {
            anyhow::bail!("one mask gave other than one set of moments");
        };
        Ok(moments)
    }

    fn clear(&self, encoder: &mut Self::Encoder, buffer: &mut Self::Buffer);
    fn copy(
        &self,
        encoder: &mut Self::Encoder,
        from: &Self::Buffer,
        to: &mut Self::Buffer,
    ) -> Result<()>;
    /// One diffusion step of `beta` from `input` into `output` on a grid of `shape`.
    fn diffusion_step(
        &self,
        encoder: &mut Self::Encoder,
        shape: [usize; 3],
        beta: f32,
        input: &Self::Buffer,
        output: &mut Self::Buffer,
    ) -> Result<()>;
    /// `steps` diffusion steps of `beta` from `state`, leaving the result in `state` (`spare` is
    /// the ping-pong partner).
    fn diffusion_steps(
        &self,
        encoder: &mut Self::Encoder,
        shape: [usize; 3],
        beta: f32,
        state: &mut Self::Buffer,
        spare: &mut Self::Buffer,
        steps: u64,
    ) -> Result<()>;
    /// series = A volume.
    fn forward(
        &self,
        encoder: &mut Self::Encoder,
        geometry: &Self::Geometry,
        volume: &Self::Buffer,
        series: &mut Self::Buffer,
    );
    /// volume = Aᵀ series.
    fn back(
        &self,
        encoder: &mut Self::Encoder,
        geometry: &Self::Geometry,
        series: &Self::Buffer,
        volume: &mut Self::Buffer,
    );
    /// residual = measured − projected, weighted = row_weights ⊙ residual.
    fn residual(
        &self,
        encoder: &mut Self::Encoder,
        measured: &Self::Buffer,
        projected: &Self::Buffer,
        row_weights: &Self::Buffer,
        residual: &mut Self::Buffer,
        weighted: &mut Self::Buffer,
    );
    /// volume ← clamp(volume + λ·column_weights ⊙ back_projected) inside the mask.
    fn update(
        &self,
        encoder: &mut Self::Encoder,
        volume: &mut Self::Buffer,
        back_projected: &Self::Buffer,
        column_weights: &Self::Buffer,
        mask: &Self::Bits,
        params: &SirtUpdateParams,
    );
    /// intensity = M·(1 + (r − 1)·C) on the full grid from a cropped, marked field.
    fn intensity(
        &self,
        encoder: &mut Self::Encoder,
        field: &Self::Buffer,
        params: &IntensityParams,
        out: &mut Self::Buffer,
    );
    /// One pass of the separable blur along `params.axis`.
    fn blur_pass(
        &self,
        encoder: &mut Self::Encoder,
        input: &Self::Buffer,
        taps: &Self::Buffer,
        params: &BlurParams,
        output: &mut Self::Buffer,
    );
    /// series ← series + sqrt(series/λ)·normal.
    fn smooth_noise(
        &self,
        encoder: &mut Self::Encoder,
        series: &mut Self::Buffer,
        normal: &Self::Buffer,
        inverse_dose: f32,
    );
}

/// The whole separable blur of `values` with `taps` (along k, i, then j), on either backend.
pub fn blur<K: Kernels>(
    kernels: &K,
    encoder: &mut K::Encoder,
    shape: [usize; 3],
    taps: &K::Buffer,
    radius: u32,
    values: &mut K::Buffer,
    scratch: &mut K::Buffer,
) {
    let shape = shape.map(|n| n as u32);
    for axis in 0..3 {
        let params = BlurParams::along(shape, axis, radius);
        kernels.blur_pass(encoder, values, taps, &params, scratch);
        std::mem::swap(values, scratch);
    }
}

/// The CPU kernels (the fast projectors and diffusion steps, the reference twins for the rest):
/// each call runs at once, so the encoder carries nothing.
pub struct CpuKernels;

/// A tilt geometry on the host: every ray's steps, walked once.
pub type CpuGeometry = RayTable;

impl Kernels for CpuKernels {
    type Buffer = Vec<f32>;
    type Bits = Vec<u32>;
    type Geometry = CpuGeometry;
    type Encoder = ();

    fn encoder(&self) {}
    fn submit(&self, _encoder: ()) {}
    fn upload(&self, samples: &[f32]) -> Result<Vec<f32>> {
        Ok(samples.to_vec())
    }
    fn zeros(&self, len: usize) -> Result<Vec<f32>> {
        Ok(vec![0.0; len])
    }
    fn upload_bits(&self, bits: &[u32], _len: usize) -> Result<Vec<u32>> {
        Ok(bits.to_vec())
    }
    fn geometry(&self, rays: &[Ray], params: &ProjectorParams) -> Result<CpuGeometry> {
        RayTable::new(rays, params)
    }
    fn download(&self, _encoder: (), buffer: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(buffer.clone())
    }
    fn moments(
        &self,
        _encoder: (),
        values: &Vec<f32>,
        masks: &[&Vec<u32>],
    ) -> Result<Vec<Moments>> {
        Ok(masks
            .iter()
            .map(|mask| masked_moments(values, mask))
            .collect())
    }
    fn clear(&self, _encoder: &mut (), buffer: &mut Vec<f32>) {
        buffer.fill(0.0);
    }
    fn copy(&self, _encoder: &mut (), from: &Vec<f32>, to: &mut Vec<f32>) -> Result<()> {
        ensure!(
            from.len() == to.len(),
            "cannot copy {} samples into {}",
            from.len(),
            to.len()
        );
        to.copy_from_slice(from);
        Ok(())
    }
    fn diffusion_step(
        &self,
        _encoder: &mut (),
        shape: [usize; 3],
        beta: f32,
        input: &Vec<f32>,
        output: &mut Vec<f32>,
    ) -> Result<()> {
        diffusion_step(shape, beta, input, output);
        Ok(())
    }
    fn diffusion_steps(
        &self,
        _encoder: &mut (),
        shape: [usize; 3],
        beta: f32,
        state: &mut Vec<f32>,
        spare: &mut Vec<f32>,
        steps: u64,
    ) -> Result<()> {
        diffusion_steps(shape, beta, state, spare, steps);
        Ok(())
    }
    fn forward(
        &self,
        _encoder: &mut (),
        geometry: &CpuGeometry,
        volume: &Vec<f32>,
        series: &mut Vec<f32>,
    ) {
        forward_project(volume, geometry, series);
    }
    fn back(
        &self,
        _encoder: &mut (),
        geometry: &CpuGeometry,
        series: &Vec<f32>,
        volume: &mut Vec<f32>,
    ) {
        back_project(series, geometry, volume);
    }
    fn residual(
        &self,
        _encoder: &mut (),
        measured: &Vec<f32>,
        projected: &Vec<f32>,
        row_weights: &Vec<f32>,
        residual: &mut Vec<f32>,
        weighted: &mut Vec<f32>,
    ) {
        sirt_residual(measured, projected, row_weights, residual, weighted);
    }
    fn update(
        &self,
        _encoder: &mut (),
        volume: &mut Vec<f32>,
        back_projected: &Vec<f32>,
        column_weights: &Vec<f32>,
        mask: &Vec<u32>,
        params: &SirtUpdateParams,
    ) {
        sirt_update(volume, back_projected, column_weights, mask, params);
    }
    fn intensity(
        &self,
        _encoder: &mut (),
        field: &Vec<f32>,
        params: &IntensityParams,
        out: &mut Vec<f32>,
    ) {
        intensity(field, params, out);
    }
    fn blur_pass(
        &self,
        _encoder: &mut (),
        input: &Vec<f32>,
        taps: &Vec<f32>,
        params: &BlurParams,
        output: &mut Vec<f32>,
    ) {
        blur_pass(input, taps, params, output);
    }
    fn smooth_noise(
        &self,
        _encoder: &mut (),
        series: &mut Vec<f32>,
        normal: &Vec<f32>,
        inverse_dose: f32,
    ) {
        let params = SmoothNoiseParams {
            len: 0,
            groups_per_row: 0,
            inverse_dose,
            padding: 0,
        };
        smooth_noise(series, normal, &params);
    }
}

/// The shaders on one GPU: each call records into the caller's encoder; nothing runs until the
/// caller submits it or reads a result back.
pub struct GpuKernels<'a> {
    pub gpu: &'a GpuContext,
}

impl Kernels for GpuKernels<'_> {
    type Buffer = GpuVolume;
    type Bits = GpuMask;
    type Geometry = GpuGeometry;
    type Encoder = GpuEncoder;

    fn encoder(&self) -> GpuEncoder {
        self.gpu.encoder()
    }
    fn submit(&self, encoder: GpuEncoder) {
        self.gpu.submit(encoder);
    }
    fn upload(&self, samples: &[f32]) -> Result<GpuVolume> {
        self.gpu.upload_samples(samples)
    }
    fn zeros(&self, len: usize) -> Result<GpuVolume> {
        self.gpu.zeros(len)
    }
    fn upload_bits(&self, bits: &[u32], len: usize) -> Result<GpuMask> {
        self.gpu.upload_bits(bits, len)
    }
    fn geometry(&self, rays: &[Ray], params: &ProjectorParams) -> Result<GpuGeometry> {
        self.gpu.upload_geometry(rays, params)
    }
    fn download(&self, encoder: GpuEncoder, buffer: &GpuVolume) -> Result<Vec<f32>> {
        self.gpu.download(encoder, buffer)
    }
    fn moments(
        &self,
        encoder: GpuEncoder,
        values: &GpuVolume,
        masks: &[&GpuMask],
    ) -> Result<Vec<Moments>> {
        self.gpu.masked_moments(encoder, values, masks)
    }
    fn clear(&self, encoder: &mut GpuEncoder, buffer: &mut GpuVolume) {
        self.gpu.record_clear(encoder, buffer);
    }
    fn copy(&self, encoder: &mut GpuEncoder, from: &GpuVolume, to: &mut GpuVolume) -> Result<()> {
        self.gpu.record_copy(encoder, from, to)
    }
    fn diffusion_step(
        &self,
        encoder: &mut GpuEncoder,
        shape: [usize; 3],
        beta: f32,
        input: &GpuVolume,
        output: &mut GpuVolume,
    ) -> Result<()> {
        self.gpu
            .record_diffusion_steps(encoder, shape, beta, [input, output], 1)
    }
    fn diffusion_steps(
        &self,
        encoder: &mut GpuEncoder,
        shape: [usize; 3],
        beta: f32,
        state: &mut GpuVolume,
        spare: &mut GpuVolume,
        steps: u64,
    ) -> Result<()> {
        self.gpu
            .record_diffusion_steps(encoder, shape, beta, [state, spare], steps)?;
        if steps % 2 == 1 {
            std::mem::swap(state, spare);
        }
        Ok(())
    }
    fn forward(
        &self,
        encoder: &mut GpuEncoder,
        geometry: &GpuGeometry,
        volume: &GpuVolume,
        series: &mut GpuVolume,
    ) {
        self.gpu
            .record_forward_project(encoder, geometry, volume, series);
    }
    fn back(
        &self,
        encoder: &mut GpuEncoder,
        geometry: &GpuGeometry,
        series: &GpuVolume,
        volume: &mut GpuVolume,
    ) {
        self.gpu
            .record_back_project(encoder, geometry, series, volume);
    }
    fn residual(
        &self,
        encoder: &mut GpuEncoder,
        measured: &GpuVolume,
        projected: &GpuVolume,
        row_weights: &GpuVolume,
        residual: &mut GpuVolume,
        weighted: &mut GpuVolume,
    ) {
        self.gpu.record_sirt_residual(
            encoder,
            [measured, projected, row_weights, residual, weighted],
        );
    }
    fn update(
        &self,
        encoder: &mut GpuEncoder,
        volume: &mut GpuVolume,
        back_projected: &GpuVolume,
        column_weights: &GpuVolume,
        mask: &GpuMask,
        params: &SirtUpdateParams,
    ) {
        self.gpu.record_sirt_update(
            encoder,
            [volume, back_projected, column_weights],
            mask,
            params,
        );
    }
    fn intensity(
        &self,
        encoder: &mut GpuEncoder,
        field: &GpuVolume,
        params: &IntensityParams,
        out: &mut GpuVolume,
    ) {
        self.gpu.record_intensity(encoder, field, params, out);
    }
    fn blur_pass(
        &self,
        encoder: &mut GpuEncoder,
        input: &GpuVolume,
        taps: &GpuVolume,
        params: &BlurParams,
        output: &mut GpuVolume,
    ) {
        self.gpu
            .record_blur_pass(encoder, input, taps, params, output);
    }
    fn smooth_noise(
        &self,
        encoder: &mut GpuEncoder,
        series: &mut GpuVolume,
        normal: &GpuVolume,
        inverse_dose: f32,
    ) {
        self.gpu
            .record_smooth_noise(encoder, series, normal, inverse_dose);
    }
}
