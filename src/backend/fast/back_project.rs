//! Fast back projection, the exact transpose of the forward projector.
//!
//! It does not mirror its shader's loop. On the GPU many invocations would add into the same
//! voxel, so the shader (and its twin, [`crate::backend::cpu::back_project`]) gathers: each voxel
//! searches every angle for the pixels that touch it. On the CPU one thread owns a block of
//! [`LANES`] slices (or one half of its angles), so this walks the forward projector's own rays
//! (angle, pixel m, step n) and adds each weight into the block: no atomics, the very same weights
//! (1 − w and w at floor(t) and floor(t) + 1), and about the cost of a forward projection instead
//! of eight times it. A voxel receives its terms in the order (angle, m) within each half of the
//! angles, whatever the block size, and the halves are added; the twin sums each angle's terms
//! before scaling them, so the two agree to f32 rounding.

use rayon::prelude::*;

use super::projector::{LANES, Lanes, RayTable, SliceBlock};
use super::{Vectorised, run_vectorised};

/// `volume[k][i][j]` = Σ over angles and pixels of weight · `series[a][k][m]` (Aᵀ applied).
///
/// Each block's angles are split in two halves, summed into two blocks as two tasks and then added:
/// a volume has few blocks (five for NC1 at 2 nm, nine at 1 nm), and one task per block left a
/// core idle for a third of the time on two cores. The split is fixed, so the result does not
/// depend on the number of threads.
pub fn back_project(series: &[f32], table: &RayTable, volume: &mut [f32]) {
    let (rays, p) = (table.rays(), table.params());
    let slice_len = (p.grid.n_i * p.grid.n_j) as usize;
    let half = rays.len() / 2;
    volume
        .par_chunks_mut(LANES * slice_len)
        .enumerate()
        .for_each(|(index, slices)| {
            let part = |angles: std::ops::Range<usize>| {
                let mut block = SliceBlock::zeros(index * LANES, p);
                run_vectorised(BackProjectBlock {
                    series,
                    table,
                    angles,
                    block: &mut block,
                });
                block
            };
            let (mut block, second) = rayon::join(|| part(0..half), || part(half..rays.len()));
            block.add(&second);
            block.scatter(slices, p);
        });
}

/// Adds Aᵀ `series` into one block, for `angles`.
struct BackProjectBlock<'a> {
    series: &'a [f32],
    table: &'a RayTable,
    angles: std::ops::Range<usize>,
    block: &'a mut SliceBlock,
}

impl Vectorised for BackProjectBlock<'_> {
    #[inline(always)]
    fn run(self) {
        let BackProjectBlock {
            series,
            table,
            angles,
            block,
        } = self;
        let p = table.params();
        let n_det = p.n_det as usize;
        let lanes_used = block.lanes_used(p.grid.n_k);
        let mut values: Vec<Lanes> = vec![[0.0; LANES]; n_det];
        for a in angles {
            let ray = &table.rays()[a];
            for lane in 0..lanes_used {
                let start = (a * p.grid.n_k as usize + block.first_k() + lane) * n_det;
                for (value, &sample) in values.iter_mut().zip(&series[start..start + n_det]) {
                    value[lane] = sample * ray.step_length;
                }
            }
            let entries = block.entries_mut();
            for (m, y) in values.iter().enumerate() {
                let y = *y;
                table.walk(a, m, |lower, upper, w| {
                    entries[lower] = add_scaled(entries[lower], 1.0 - w, y);
                    entries[upper] = add_scaled(entries[upper], w, y);
                });
            }
        }
    }
}

/// `entry + weight · y`, lane by lane. Whole arrays in and out, so that the compiler sees one vector
/// operation rather than eight stores through a reference.
#[inline(always)]
fn add_scaled(entry: Lanes, weight: f32, y: Lanes) -> Lanes {
    std::array::from_fn(|lane| entry[lane] + weight * y[lane])
}
