//! CPU twin of `shaders/blur.wgsl`: one pass of the separable Gaussian blur, a 1D convolution with
//! 2R + 1 taps along one axis, zero outside the volume, taps summed in the shader's order.

use rayon::prelude::*;

use super::grid::Grid;

/// The shader's uniform: the grid, the axis (0 = k, 1 = i, 2 = j) and the radius R.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlurParams {
    pub grid: Grid,
    pub axis: u32,
    pub radius: u32,
    pub padding: [u32; 2],
}

impl BlurParams {
    /// The pass along `axis` of a grid of `[n_k, n_i, n_j]` with taps of `radius`.
    pub fn along(shape: [u32; 3], axis: u32, radius: u32) -> BlurParams {
        BlurParams {
            grid: Grid::new(shape),
            axis,
            radius,
            padding: [0; 2],
        }
    }
}

pub fn blur_pass(input: &[f32], taps: &[f32], params: &BlurParams, output: &mut [f32]) {
    let p = *params;
    let (n_i, n_j) = (p.grid.n_i as usize, p.grid.n_j as usize);
    let (length, stride) = match p.axis {
        0 => (p.grid.n_k as usize, n_i * n_j),
        1 => (n_i, n_j),
        _ => (n_j, 1),
    };
    let radius = p.radius as isize;
    output
        .par_chunks_mut(n_j)
        .enumerate()
        .for_each(|(row_index, out)| {
            let k = row_index / n_i;
            let i = row_index % n_i;
            for (j, value) in out.iter_mut().enumerate() {
                let n = (k * n_i + i) * n_j + j;
                let position = [k, i, j][p.axis.min(2) as usize] as isize;
                let mut sum = 0.0f32;
                for (t, &w) in taps.iter().enumerate() {
                    let offset = t as isize - radius;
                    let q = position + offset;
                    if q >= 0 && q < length as isize {
                        sum += w * input[(n as isize + offset * stride as isize) as usize];
                    }
                }
                *value = sum;
            }
        });
}
