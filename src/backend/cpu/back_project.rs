//! CPU twin of `shaders/back_project.wgsl`: back projection, the exact transpose of the forward
//! projector. One voxel (j, i, k) at a time gathers, for every angle, the few detector pixels whose
//! rays touch it, with the forward projector's own interpolation weights; rayon over rows of
//! voxels.

use rayon::prelude::*;

use super::projector::{ProjectorParams, Ray, detector_u, ray_coordinate};

/// The weight of the voxel at `index` across the ray at coordinate `t`: 1 − w at floor(t), w at
/// floor(t) + 1, 0 elsewhere.
fn joseph_weight(t: f32, index: f32) -> f32 {
    let lower = t.floor();
    let w = t - lower;
    (if lower == index { 1.0 - w } else { 0.0 }) + (if lower + 1.0 == index { w } else { 0.0 })
}

/// `volume[k][i][j]` = Σ over angles and pixels of weight · `series[a][k][m]` (Aᵀ applied).
pub fn back_project(series: &[f32], rays: &[Ray], p: &ProjectorParams, volume: &mut [f32]) {
    let (n_k, n_i, n_det) = (p.grid.n_k as usize, p.grid.n_i as usize, p.n_det as usize);
    volume
        .par_chunks_mut(p.grid.n_j as usize)
        .enumerate()
        .for_each(|(row_index, voxels)| {
            let (k, i) = (row_index / n_i, row_index % n_i);
            for (j, voxel) in voxels.iter_mut().enumerate() {
                let mut sum = 0.0;
                for (a, ray) in rays.iter().enumerate() {
                    let (n, index) = if ray.steps_rows == 1 { (i, j) } else { (j, i) };
                    // Pixels whose ray passes within one voxel of this one, along the stepped row
                    // or column: a window 2 · pixels_per_voxel wide; flooring its start keeps every
                    // one despite rounding, and the weights decide exactly.
                    let x = j as f32 + 0.5 - p.grid.n_j as f32 / 2.0;
                    let y = p.grid.n_i as f32 / 2.0 - i as f32 - 0.5;
                    let centre = (x * ray.cos + y * ray.sin) / p.pitch - 0.5 + n_det as f32 / 2.0;
                    let first = (centre - ray.pixels_per_voxel).floor() as i32;
                    let count = (2.0 * ray.pixels_per_voxel).ceil() as i32 + 1;
                    let mut along = 0.0;
                    for m in first..first + count {
                        if m < 0 || m >= n_det as i32 {
                            continue;
                        }
                        let t = ray_coordinate(ray, detector_u(m as u32, p), n as u32, p);
                        along += joseph_weight(t, index as f32)
                            * series[(a * n_k + k) * n_det + m as usize];
                    }
                    sum += along * ray.step_length;
                }
                *voxel = sum;
            }
        });
}
