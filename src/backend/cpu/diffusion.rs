//! CPU twin of `shaders/diffusion.wgsl`: one explicit Euler step of Fick's law on the masked
//! 7-point stencil, c' = c + β·Σ over the face neighbours inside the mask of (c_j − c), one voxel
//! at a time in the shader's order of additions (k−, k+, i−, i+, j−, j+); rayon over k-planes takes
//! the place of the workgroups. Outside voxels hold a negative marker in the field itself (see the
//! shader).

use rayon::prelude::*;

use super::grid::Grid;

/// The value voxels outside the mask hold (any negative value marks one).
pub const OUTSIDE: f32 = -1.0;

/// The shader's uniform: the grid and β.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct DiffusionParams {
    pub grid: Grid,
    pub beta: f32,
    pub padding: [u32; 3],
}

/// A neighbour's contribution: zero flux through faces to outside voxels.
#[inline(always)]
pub fn flux(c_j: f32, c: f32) -> f32 {
    if c_j >= 0.0 { c_j - c } else { 0.0 }
}

/// Voxels per k-plane of `shape`, after checking that both fields hold that grid.
pub fn plane_len(shape: [usize; 3], field_in: &[f32], field_out: &[f32]) -> usize {
    let [n_k, n_i, n_j] = shape;
    let plane = n_i * n_j;
    assert_eq!(
        field_in.len(),
        n_k * plane,
        "field does not match its shape"
    );
    assert_eq!(field_out.len(), field_in.len(), "fields differ in size");
    plane
}

/// `field_out` = one step of `beta` from `field_in`, on a grid of `[n_k, n_i, n_j]`.
pub fn diffusion_step(shape: [usize; 3], beta: f32, field_in: &[f32], field_out: &mut [f32]) {
    let [n_k, n_i, n_j] = shape;
    let row = n_j;
    let plane = plane_len(shape, field_in, field_out);
    field_out
        .par_chunks_mut(plane)
        .enumerate()
        .for_each(|(k, out_plane)| {
            for i in 0..n_i {
                for j in 0..n_j {
                    let n = k * plane + i * row + j;
                    let c = field_in[n];
                    if c < 0.0 {
                        out_plane[i * row + j] = c;
                        continue;
                    }
                    let mut sum = 0.0;
                    if k > 0 {
                        sum += flux(field_in[n - plane], c);
                    }
                    if k + 1 < n_k {
                        sum += flux(field_in[n + plane], c);
                    }
                    if i > 0 {
                        sum += flux(field_in[n - row], c);
                    }
                    if i + 1 < n_i {
                        sum += flux(field_in[n + row], c);
                    }
                    if j > 0 {
                        sum += flux(field_in[n - 1], c);
                    }
                    if j + 1 < n_j {
                        sum += flux(field_in[n + 1], c);
                    }
                    out_plane[i * row + j] = c + beta * sum;
                }
            }
        });
}
