//! The slice blocks both fast projectors work on. Every k-slice is the same 2D problem, so the fast
//! projectors take [`LANES`] slices at once: a [`SliceBlock`] interleaves them voxel by voxel, each
//! ray step's index and weight are computed once for all of them, and the arithmetic on the voxels
//! is one 8-wide vector operation. Per slice the operations and their order are those of the
//! one-slice loop of the twin, so results do not change.

use crate::backend::cpu::projector::{ProjectorParams, Ray, ray_coordinate};

/// Slices projected together: one AVX2 register of f32.
pub const LANES: usize = 8;

/// One voxel position of the [`LANES`] slices of a block.
pub type Lanes = [f32; LANES];

/// [`LANES`] consecutive k-slices, interleaved (entry (row, column) holds that voxel of each
/// slice), with a ring of zero entries around the slice: a ray step that reads or adds to the voxel
/// pair (floor t, floor t + 1) then needs no check beyond whether the pair touches the slice at
/// all. Lanes past the last slice stay zero.
pub struct SliceBlock {
    entries: Vec<Lanes>,
    /// The first slice of the block.
    first_k: usize,
}

impl SliceBlock {
    /// An all-zero block for slices `first_k`…
    pub fn zeros(first_k: usize, p: &ProjectorParams) -> SliceBlock {
        let entries = vec![[0.0; LANES]; (p.grid.n_i as usize + 2) * (p.grid.n_j as usize + 2)];
        SliceBlock { entries, first_k }
    }

    /// The block of `slices` (`[k][i][j]`, at most [`LANES`] of them), the first being `first_k`.
    pub fn gather(slices: &[f32], first_k: usize, p: &ProjectorParams) -> SliceBlock {
        let mut block = SliceBlock::zeros(first_k, p);
        let n_j = p.grid.n_j as usize;
        for (lane, slice) in slices
            .chunks_exact((p.grid.n_i * p.grid.n_j) as usize)
            .enumerate()
        {
            for (i, row) in slice.chunks_exact(n_j).enumerate() {
                let start = (i + 1) * (n_j + 2) + 1;
                for (entry, &voxel) in block.entries[start..start + n_j].iter_mut().zip(row) {
                    entry[lane] = voxel;
                }
            }
        }
        block
    }

    /// Writes the block into `slices`, the inverse of [`SliceBlock::gather`].
    pub fn scatter(&self, slices: &mut [f32], p: &ProjectorParams) {
        let n_j = p.grid.n_j as usize;
        for (lane, slice) in slices
            .chunks_exact_mut((p.grid.n_i * p.grid.n_j) as usize)
            .enumerate()
        {
            for (i, row) in slice.chunks_exact_mut(n_j).enumerate() {
                let start = (i + 1) * (n_j + 2) + 1;
                for (voxel, entry) in row.iter_mut().zip(&self.entries[start..start + n_j]) {
                    *voxel = entry[lane];
                }
            }
        }
    }

    pub fn first_k(&self) -> usize {
        self.first_k
    }

    /// How many of the lanes hold a slice of a volume with `n_k` slices.
    pub fn lanes_used(&self, n_k: u32) -> usize {
        (n_k as usize - self.first_k).min(LANES)
    }

    pub fn entries(&self) -> &[Lanes] {
        &self.entries
    }

    pub fn entries_mut(&mut self) -> &mut [Lanes] {
        &mut self.entries
    }

    /// Adds `other`'s entries (a block of the same slices) to this one's, lane by lane.
    pub fn add(&mut self, other: &SliceBlock) {
        for (entry, other) in self.entries.iter_mut().zip(&other.entries) {
            *entry = std::array::from_fn(|lane| entry[lane] + other[lane]);
        }
    }
}

/// Ray steps whose coordinates are computed together: one AVX2 register of f32.
const STEP_CHUNK: usize = 8;

/// Walks the ray of detector coordinate `u` through a slice, as Joseph's projector does: at each
/// step n (a row for rows-stepping rays, a column otherwise) whose voxel pair touches the slice, it
/// calls `visit(lower, upper, w)` with the [`SliceBlock`] entries of the voxels at floor(t) and
/// floor(t) + 1, which carry weights 1 − w and w.
///
/// The coordinates of [`STEP_CHUNK`] steps are computed at once, as plain loops over arrays that
/// compile to vector instructions: per step the scalar arithmetic (coordinate, floor, weight,
/// entry index) otherwise outweighed the one vector operation on the slices. Each step's
/// coordinate is the same f32 expression as in [`ray_coordinate`], so the weights are the same.
#[inline(always)]
pub fn walk_ray(ray: &Ray, u: f32, p: &ProjectorParams, mut visit: impl FnMut(usize, usize, f32)) {
    // Entry indices fit in u32: 2^32 entries of a block would take 128 GiB.
    let width = p.grid.n_j + 2;
    let (steps, across, stride_along, stride_across) = if ray.steps_rows == 1 {
        (p.grid.n_i, p.grid.n_j, width, 1)
    } else {
        (p.grid.n_j, p.grid.n_i, 1, width)
    };
    // Past 2^24 voxels f32 coordinates no longer tell voxels apart; TiltGeometry refuses such
    // slices, and the limit keeps the conversion below sound for any parameters.
    let across_limit = across.min(1 << 24) as f32;
    let mut first = 0;
    while first < steps {
        let mut t = [0.0f32; STEP_CHUNK];
        for (offset, t) in t.iter_mut().enumerate() {
            *t = ray_coordinate(ray, u, first + offset as u32, p);
        }
        let lower = t.map(f32::floor);
        let mut w = [0.0f32; STEP_CHUNK];
        let mut at = [0u32; STEP_CHUNK];
        let mut inside = [false; STEP_CHUNK];
        for s in 0..STEP_CHUNK {
            w[s] = t[s] - lower[s];
            // The pair (lower, lower + 1) touches the slice for lower in [−1, across − 1]; the
            // zero ring holds the one voxel of the pair that may lie outside.
            inside[s] = (lower[s] >= -1.0) & (lower[s] < across as f32);
            // Clamped into [0, across] (where the steps visited lie already), the conversion
            // needs no saturation and vectorises.
            let clamped = (lower[s] + 1.0).max(0.0).min(across_limit);
            // SAFETY: `clamped` is not NaN (max and min return the other operand for a NaN) and
            // lies in [0, 2^24], inside i32.
            let across_index = unsafe { clamped.to_int_unchecked::<i32>() } as u32;
            at[s] = (first + s as u32 + 1) * stride_along + across_index * stride_across;
        }
        let count = (steps - first).min(STEP_CHUNK as u32) as usize;
        for s in 0..count {
            if inside[s] {
                let at = at[s] as usize;
                visit(at, at + stride_across as usize, w[s]);
            }
        }
        first += STEP_CHUNK as u32;
    }
}
