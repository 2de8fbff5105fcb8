//! Fast Joseph forward projection: [`crate::backend::cpu::forward_project`]'s loop, one detector
//! pixel (m, angle) at a time for a block of [`LANES`] slices, rayon over projection images. Ray
//! steps whose voxel pair misses the slice are skipped; the twin adds their zero.

use rayon::prelude::*;

use super::projector::{LANES, RayTable, SliceBlock};
use super::{Vectorised, run_vectorised};

/// `series[a][k][m]` = the line integral (in voxel lengths) of slice k along ray (a, m).
pub fn forward_project(volume: &[f32], table: &RayTable, series: &mut [f32]) {
    let p = table.params();
    let blocks: Vec<SliceBlock> = volume
        .par_chunks(LANES * (p.grid.n_i * p.grid.n_j) as usize)
        .enumerate()
        .map(|(index, slices)| SliceBlock::gather(slices, index * LANES, p))
        .collect();
    let image = (p.grid.n_k * p.n_det) as usize;
    series
        .par_chunks_mut(image)
        .enumerate()
        .for_each(|(angle, projection)| {
            run_vectorised(ProjectImage {
                blocks: &blocks,
                table,
                angle,
                projection,
            });
        });
}

/// One projection image (`[k][m]`) of every block.
struct ProjectImage<'a> {
    blocks: &'a [SliceBlock],
    table: &'a RayTable,
    angle: usize,
    projection: &'a mut [f32],
}

impl Vectorised for ProjectImage<'_> {
    #[inline(always)]
    fn run(self) {
        let ProjectImage {
            blocks,
            table,
            angle,
            projection,
        } = self;
        let p = table.params();
        let ray = &table.rays()[angle];
        let n_det = p.n_det as usize;
        for block in blocks {
            let entries = block.entries();
            for m in 0..p.n_det {
                let mut sum = [0.0; LANES];
                table.walk(angle, m as usize, |lower, upper, w| {
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
