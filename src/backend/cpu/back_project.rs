//! CPU twin of `shaders/back_project.wgsl`: the exact transpose of the forward projector.
//!
//! The one twin that does not mirror its shader's loop. On the GPU many invocations would add into
//! the same voxel, so the shader gathers: each voxel searches every angle for the pixels that
//! touch it. On the CPU one thread owns a whole slice, so this walks the forward projector's own
//! steps (angle, step n, pixel m) and adds each weight into the slice: no atomics, the very same
//! weights (1 − w and w at floor(t) and floor(t) + 1), and about the cost of a forward projection
//! instead of eight times it. tests/projector.rs checks both against the forward projector and
//! against each other.

use rayon::prelude::*;

use super::projector::{ProjectorParams, Ray, detector_u, ray_coordinate};

/// `volume[k][i][j]` = Σ over angles and pixels of weight · `series[a][k][m]` (Aᵀ applied).
pub fn back_project(series: &[f32], rays: &[Ray], p: &ProjectorParams, volume: &mut [f32]) {
    let (n_i, n_j, n_det) = (p.n_i as usize, p.n_j as usize, p.n_det as usize);
    volume
        .par_chunks_mut(n_i * n_j)
        .enumerate()
        .for_each(|(k, slice)| {
            slice.fill(0.0);
            for (a, ray) in rays.iter().enumerate() {
                let start = (a * p.n_k as usize + k) * n_det;
                let projection = &series[start..start + n_det];
                let steps = if ray.steps_rows == 1 { p.n_i } else { p.n_j };
                for n in 0..steps {
                    for (m, &value) in projection.iter().enumerate() {
                        let t = ray_coordinate(ray, detector_u(m as u32, p), n, p);
                        let lower = t.floor();
                        let w = t - lower;
                        let l = lower as i64;
                        let y = value * ray.step_length;
                        let mut add = |index: i64, weight: f32| {
                            let n = n as usize;
                            let at = if ray.steps_rows == 1 {
                                (index >= 0 && index < n_j as i64).then(|| n * n_j + index as usize)
                            } else {
                                (index >= 0 && index < n_i as i64).then(|| index as usize * n_j + n)
                            };
                            if let Some(at) = at {
                                slice[at] += weight * y;
                            }
                        };
                        add(l, 1.0 - w);
                        add(l + 1, w);
                    }
                }
            }
        });
}
