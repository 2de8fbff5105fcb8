//! CPU twin of `shaders/back_project.wgsl`: the exact transpose of the forward projector, one voxel
//! (j, i, k) at a time, gathering each angle's few detector pixels with the forward projector's own
//! weights; rayon over k-slices.

use rayon::prelude::*;

use super::projector::{
    ProjectorParams, Ray, candidate_pixels, detector_u, joseph_weight, ray_coordinate,
};

/// `volume[k][i][j]` = Σ over angles and pixels of weight · `series[a][k][m]` (Aᵀ applied).
pub fn back_project(series: &[f32], rays: &[Ray], p: &ProjectorParams, volume: &mut [f32]) {
    let slice = (p.n_i * p.n_j) as usize;
    volume
        .par_chunks_mut(slice)
        .enumerate()
        .for_each(|(k, out)| {
            let k = k as u32;
            for i in 0..p.n_i {
                for j in 0..p.n_j {
                    let mut sum = 0.0;
                    for (a, ray) in rays.iter().enumerate() {
                        let (n, index) = if ray.steps_rows == 1 { (i, j) } else { (j, i) };
                        let (first, last) = candidate_pixels(ray, n, index, p);
                        let mut along = 0.0;
                        for m in first..=last {
                            let t = ray_coordinate(ray, detector_u(m as u32, p), n, p);
                            let at = (a as u32 * p.n_k + k) * p.n_det + m as u32;
                            along += joseph_weight(t, i64::from(index)) * series[at as usize];
                        }
                        sum += along * ray.step_length;
                    }
                    out[(i * p.n_j + j) as usize] = sum;
                }
            }
        });
}
