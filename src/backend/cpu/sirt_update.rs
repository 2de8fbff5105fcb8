//! CPU twin of `shaders/sirt_update.wgsl`: x ← clamp(x + λ·C ⊙ b, min, max) inside the mask, 0
//! outside, element by element.

use rayon::prelude::*;

/// λ and the box constraint of one SIRT update (as the shader's uniform).
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct SirtUpdateParams {
    pub len: u32,
    pub groups_per_row: u32,
    pub relaxation: f32,
    pub min_value: f32,
    pub max_value: f32,
    pub padding: [u32; 3],
}

pub fn sirt_update(
    volume: &mut [f32],
    back_projected: &[f32],
    column_weights: &[f32],
    mask_bits: &[u32],
    params: &SirtUpdateParams,
) {
    volume.par_iter_mut().enumerate().for_each(|(n, v)| {
        if (mask_bits[n / 32] >> (n % 32)) & 1 == 0 {
            *v = 0.0;
            return;
        }
        let x = *v + params.relaxation * column_weights[n] * back_projected[n];
        *v = x.clamp(params.min_value, params.max_value);
    });
}
