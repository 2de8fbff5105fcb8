//! CPU twin of `shaders/forward_project.wgsl`: Joseph forward projection, one detector pixel
//! (m, k, angle) at a time, rayon over projection images.

use rayon::prelude::*;

use super::projector::{ProjectorParams, Ray, detector_u, ray_coordinate};

/// The voxel at (row, column) of slice k, zero outside the slice.
#[inline(always)]
fn voxel(volume: &[f32], p: &ProjectorParams, k: u32, row: i64, column: i64) -> f32 {
    if row < 0 || column < 0 || row >= i64::from(p.n_i) || column >= i64::from(p.n_j) {
        return 0.0;
    }
    volume[((k * p.n_i) as usize + row as usize) * p.n_j as usize + column as usize]
}

/// `series[a][k][m]` = the line integral (in voxel lengths) of slice k along ray (a, m).
pub fn forward_project(volume: &[f32], rays: &[Ray], p: &ProjectorParams, series: &mut [f32]) {
    let image = (p.n_k * p.n_det) as usize;
    series
        .par_chunks_mut(image)
        .zip(rays)
        .for_each(|(projection, ray)| {
            for k in 0..p.n_k {
                for m in 0..p.n_det {
                    let u = detector_u(m, p);
                    let steps = if ray.steps_rows == 1 { p.n_i } else { p.n_j };
                    let mut sum = 0.0;
                    for n in 0..steps {
                        let t = ray_coordinate(ray, u, n, p);
                        let lower = t.floor();
                        let w = t - lower;
                        let l = lower as i64;
                        let n = i64::from(n);
                        if ray.steps_rows == 1 {
                            sum += (1.0 - w) * voxel(volume, p, k, n, l)
                                + w * voxel(volume, p, k, n, l + 1);
                        } else {
                            sum += (1.0 - w) * voxel(volume, p, k, l, n)
                                + w * voxel(volume, p, k, l + 1, n);
                        }
                    }
                    projection[(k * p.n_det + m) as usize] = sum * ray.step_length;
                }
            }
        });
}
