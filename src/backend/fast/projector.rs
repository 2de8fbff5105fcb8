//! The slice blocks and the ray table both fast projectors work on. Every k-slice is the same 2D
//! problem, so the fast projectors take [`LANES`] slices at once: a [`SliceBlock`] interleaves them
//! voxel by voxel, each ray step's entry and weight come once for all of them from the
//! [`RayTable`], and the arithmetic on the voxels is one 8-wide vector operation. Per slice the
//! operations and their order are those of the one-slice loop of the twin, so results do not
//! change.

use anyhow::Result;
use rayon::prelude::*;

use crate::backend::cpu::projector::{ProjectorParams, Ray, detector_u, ray_coordinate};

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
/// compile to vector instructions: a lone projection pays for its [`RayTable`]'s walk. Each step's
/// coordinate is the same f32 expression as in [`ray_coordinate`], so the weights are the same.
#[inline(always)]
fn walk_ray(ray: &Ray, u: f32, p: &ProjectorParams, mut visit: impl FnMut(usize, usize, f32)) {
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

/// One ray step whose voxel pair touches the slice: the [`SliceBlock`] entry of the voxel at
/// floor(t) and the weight w of the voxel after it (the one at floor(t) has 1 − w).
#[derive(Debug, Clone, Copy)]
struct Step {
    lower: u32,
    w: f32,
}

/// Every ray's steps through a slice, walked once and kept. A SIRT run projects with the same rays
/// twice per iteration, and each projection walks them once per block of slices; walking them anew
/// each time had cost more than the vector arithmetic on the slices (docs/PERFORMANCE.md, "The ray
/// table").
pub struct RayTable {
    rays: Vec<Ray>,
    params: ProjectorParams,
    /// Ray (angle a, pixel m) owns `steps[starts[a·n_det + m]..starts[a·n_det + m + 1]]`.
    starts: Vec<usize>,
    steps: Vec<Step>,
    /// Entry offset from a pair's voxel at floor(t) to the one after it, per angle: the next column
    /// for rays that step through rows, the next row otherwise.
    strides: Vec<usize>,
}

/// One angle's part of a [`RayTable`]: its pixels' steps, where each pixel's end, and the stride.
struct AngleSteps {
    steps: Vec<Step>,
    ends: Vec<usize>,
    stride: usize,
}

impl AngleSteps {
    fn walk(ray: &Ray, p: &ProjectorParams) -> AngleSteps {
        let mut angle = AngleSteps {
            steps: Vec::new(),
            ends: Vec::with_capacity(p.n_det as usize),
            stride: 1,
        };
        for m in 0..p.n_det {
            walk_ray(ray, detector_u(m, p), p, |lower, upper, w| {
                angle.stride = upper - lower;
                // Entry indices fit in u32 (see walk_ray).
                angle.steps.push(Step {
                    lower: lower as u32,
                    w,
                });
            });
            angle.ends.push(angle.steps.len());
        }
        angle
    }
}

impl RayTable {
    /// Walks every ray of `rays` × the detector's pixels once (`walk_ray`), the angles in
    /// parallel: on one thread the walk cost as much as the projection it served (a lone forward
    /// projection of 16 slices of 112² took 4.4 ms against 2.5 ms).
    pub fn new(rays: &[Ray], p: &ProjectorParams) -> Result<RayTable> {
        // At most one step per row or column.
        let most_steps =
            rays.len() as u64 * u64::from(p.n_det) * u64::from(p.grid.n_i.max(p.grid.n_j));
        crate::memory::check(
            || {
                format!(
                    "the ray table of {} angles × {} pixels",
                    rays.len(),
                    p.n_det
                )
            },
            most_steps * std::mem::size_of::<Step>() as u64,
        )?;
        let angles: Vec<AngleSteps> = rays
            .par_iter()
            .map(|ray| AngleSteps::walk(ray, p))
            .collect();
        let mut table = RayTable {
            rays: rays.to_vec(),
            params: *p,
            starts: Vec::with_capacity(rays.len() * p.n_det as usize + 1),
            steps: Vec::with_capacity(angles.iter().map(|angle| angle.steps.len()).sum()),
            strides: Vec::with_capacity(rays.len()),
        };
        table.starts.push(0);
        for angle in angles {
            let offset = table.steps.len();
            table
                .starts
                .extend(angle.ends.iter().map(|end| offset + end));
            table.steps.extend(angle.steps);
            table.strides.push(angle.stride);
        }
        Ok(table)
    }

    pub fn rays(&self) -> &[Ray] {
        &self.rays
    }

    pub fn params(&self) -> &ProjectorParams {
        &self.params
    }

    /// Calls `visit(lower, upper, w)` for each step of ray (`angle`, pixel `m`) with the
    /// [`SliceBlock`] entries of the voxel pair, which carry weights 1 − w and w.
    #[inline(always)]
    pub fn walk(&self, angle: usize, m: usize, mut visit: impl FnMut(usize, usize, f32)) {
        let ray = angle * self.params.n_det as usize + m;
        let stride = self.strides[angle];
        for step in &self.steps[self.starts[ray]..self.starts[ray + 1]] {
            let lower = step.lower as usize;
            visit(lower, lower + stride, step.w);
        }
    }
}
