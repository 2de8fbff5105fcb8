//! CPU twin of `shaders/forward_project.wgsl`: Joseph forward projection, one detector pixel
//! (m, k, angle) at a time, stepping through the rows (or columns) of slice k and interpolating
//! linearly between the two voxels around the ray; rayon over the rows of the tilt series.

use rayon::prelude::*;

use super::projector::{ProjectorParams, Ray, detector_u, ray_coordinate};

/// `series[a][k][m]` = the line integral (in voxel lengths) of slice k along ray (a, m).
pub fn forward_project(volume: &[f32], rays: &[Ray], p: &ProjectorParams, series: &mut [f32]) {
    let (n_k, n_i, n_j) = (
        p.grid.n_k as usize,
        p.grid.n_i as usize,
        p.grid.n_j as usize,
    );
    // The voxel at (row, column) of slice k, zero outside the slice.
    let voxel = |k: usize, row: i32, column: i32| -> f32 {
        if row < 0 || column < 0 || row >= n_i as i32 || column >= n_j as i32 {
            return 0.0;
        }
        volume[(k * n_i + row as usize) * n_j + column as usize]
    };
    series
        .par_chunks_mut(p.n_det as usize)
        .enumerate()
        .for_each(|(image_row, pixels)| {
            let (a, k) = (image_row / n_k, image_row % n_k);
            let ray = &rays[a];
            for (m, pixel) in pixels.iter_mut().enumerate() {
                let u = detector_u(m as u32, p);
                let steps = if ray.steps_rows == 1 {
                    p.grid.n_i
                } else {
                    p.grid.n_j
                };
                let mut sum = 0.0;
                for n in 0..steps {
                    let t = ray_coordinate(ray, u, n, p);
                    let lower = t.floor();
                    let w = t - lower;
                    let l = lower as i32;
                    if ray.steps_rows == 1 {
                        sum += (1.0 - w) * voxel(k, n as i32, l) + w * voxel(k, n as i32, l + 1);
                    } else {
                        sum += (1.0 - w) * voxel(k, l, n as i32) + w * voxel(k, l + 1, n as i32);
                    }
                }
                *pixel = sum * ray.step_length;
            }
        });
}
