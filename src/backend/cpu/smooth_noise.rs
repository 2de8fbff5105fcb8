//! CPU twin of `shaders/smooth_noise.wgsl`: p ← p + sqrt(p/λ)·z with a fixed standard-normal field z.

use rayon::prelude::*;

/// The shader's uniform.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct SmoothNoiseParams {
    pub len: u32,
    pub groups_per_row: u32,
    pub inverse_dose: f32,
    pub padding: u32,
}

pub fn smooth_noise(series: &mut [f32], normal: &[f32], params: &SmoothNoiseParams) {
    series.par_iter_mut().enumerate().for_each(|(n, p)| {
        *p += (p.max(0.0) * params.inverse_dose).sqrt() * normal[n];
    });
}
