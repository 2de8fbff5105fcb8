//! CPU twin of `shaders/intensity.wgsl`: I = M·(1 + (r − 1)·C) on the full grid, from a field cropped
//! to the particle's bounding box whose outside voxels hold a negative marker.

use rayon::prelude::*;

use super::grid::Grid;

/// The shader's uniform: the grid imaged, r − 1, and where the crop sits in it. The crop's first
/// slice `k0` is taken modulo 2^32, so that a grid which is a slab starting inside the crop can
/// give it as the wrapped negative offset.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct IntensityParams {
    pub grid: Grid,
    pub contrast_minus_one: f32,
    pub k0: u32,
    pub i0: u32,
    pub j0: u32,
    pub crop_k: u32,
    pub crop_i: u32,
    pub crop_j: u32,
    pub padding: u32,
}

pub fn intensity(field: &[f32], params: &IntensityParams, intensity: &mut [f32]) {
    let p = *params;
    let row = p.grid.n_j as usize;
    intensity
        .par_chunks_mut(row)
        .enumerate()
        .for_each(|(row_index, out)| {
            let k = (row_index / p.grid.n_i as usize) as u32;
            let i = (row_index % p.grid.n_i as usize) as u32;
            for (j, value) in out.iter_mut().enumerate() {
                let ck = k.wrapping_sub(p.k0);
                let ci = i.wrapping_sub(p.i0);
                let cj = (j as u32).wrapping_sub(p.j0);
                *value = 0.0;
                if ck < p.crop_k && ci < p.crop_i && cj < p.crop_j {
                    let c = field[((ck * p.crop_i + ci) * p.crop_j + cj) as usize];
                    if c >= 0.0 {
                        *value = 1.0 + p.contrast_minus_one * c;
                    }
                }
            }
        });
}
