//! Fast Joseph forward projection: [`crate::backend::cpu::forward_project`]'s loop, one detector
//! pixel (m, angle) at a time for a block of [`LANES`] slices, rayon over projection images. Ray
//! steps whose voxel pair misses the slice are skipped; the twin adds their zero.

use rayon::prelude::*;

use super::projector::{LANES, SliceBlock, walk_ray};
use super::{Vectorised, run_vectorised};
use crate::backend::cpu::projector::{ProjectorParams, Ray, detector_u};

/// `series[a][k][m]` = the line integral (in voxel lengths) of slice k along ray (a, m).
pub fn forward_project(volume: &[f32], rays: &[Ray], p: &ProjectorParams, series: &mut [f32]) {
    let blocks: Vec<SliceBlock> = volume
        .par_chunks(LANES * (p.grid.n_i * p.grid.n_j) as usize)
        .enumerate()
        .map(|(index, slices)| SliceBlock::gather(slices, index * LANES, p))
        .collect();
    let image = (p.grid.n_k * p.n_det) as usize;
    series
        .par_chunks_mut(image)
        .zip(rays)
        .for_each(|(projection, ray)| {
            run_vectorised(ProjectImage {
                blocks: &blocks,
                ray,
                p,
                projection,
            });
        });
}

/// One projection image (`[k][m]`) of every block.
struct ProjectImage<'a> {
    blocks: &'a [SliceBlock],
    ray: &'a Ray,
    p: &'a ProjectorParams,
    projection: &'a mut [f32],
}

impl Vectorised for ProjectImage<'_> {
    #[inline(always)]
    fn run(self) {
        let ProjectImage {
            blocks,
            ray,
            p,
            projection,
        } = self;
        let n_det = p.n_det as usize;
        for block in blocks {
            let entries = block.entries();
            for m in 0..p.n_det {
                let mut sum = [0.0; LANES];
                walk_ray(ray, detector_u(m, p), p, |lower, upper, w| {
                    let (lower, upper) = (&entries[lower], &entries[upper]);
                    for lane in 0..LANES {
                        sum[lane] += (1.0 - w) * lower[lane] + w * upper[lane];
                    }
                });
                for (lane, &sum) in sum.iter().take(block.lanes_used(p.grid.n_k)).enumerate() {
                    projection[(block.first_k() + lane) * n_det + m as usize] =
                        sum * ray.step_length;
                }
            }
        }
    }
}
