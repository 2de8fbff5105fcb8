//! Shared by the CPU twins of `shaders/forward_project.wgsl` and `shaders/back_project.wgsl`: the
//! per-angle ray parameters and the Joseph interpolation coordinate, computed in f32 with the same
//! operations as the shaders' `ray_coordinate`, so that the back projector reproduces the forward
//! projector's weights exactly; and the slice blocks both CPU projectors work on.
//!
//! Every k-slice is the same 2D problem, so the CPU projectors take [`LANES`] slices at once: a
//! [`SliceBlock`] interleaves them voxel by voxel, each ray step's index and weight are computed
//! once for all of them, and the arithmetic on the voxels is one 8-wide vector operation. Per slice
//! the operations and their order are those of the one-slice loop, so results do not change.

/// One tilt angle as the kernels see it (f32, as on the GPU).
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Ray {
    pub cos: f32,
    pub sin: f32,
    /// 1 when the ray steps through rows (|cos| ≥ |sin|), 0 when it steps through columns.
    pub steps_rows: u32,
    /// Path length through one row or column, in voxels: 1/max(|cos|, |sin|).
    pub step_length: f32,
    /// 1/cos for rows-stepping rays, 1/sin for column-stepping ones: a multiplication per step
    /// instead of a division.
    pub inverse: f32,
    /// Detector pixels per voxel along the stepped row or column: |cos|/pitch or |sin|/pitch
    /// (the back projector's candidate window).
    pub pixels_per_voxel: f32,
}

impl Ray {
    pub fn new(angle_deg: f64, pitch: f64) -> Ray {
        let (sin, cos) = angle_deg.to_radians().sin_cos();
        let steps_rows = cos.abs() >= sin.abs();
        let along = if steps_rows { cos } else { sin };
        Ray {
            cos: cos as f32,
            sin: sin as f32,
            steps_rows: u32::from(steps_rows),
            step_length: (1.0 / along.abs()) as f32,
            inverse: (1.0 / along) as f32,
            pixels_per_voxel: (along.abs() / pitch) as f32,
        }
    }
}

/// Slice and detector sizes, as the kernels' uniform.
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct ProjectorParams {
    pub n_k: u32,
    pub n_i: u32,
    pub n_j: u32,
    pub n_det: u32,
    pub n_angles: u32,
    /// Detector pitch in voxels.
    pub pitch: f32,
    pub padding: [u32; 2],
}

/// Detector coordinate u of pixel `m`, in voxels (ASTRA: centre at (m + ½ − n_det/2)·pitch).
#[inline(always)]
pub fn detector_u(m: u32, p: &ProjectorParams) -> f32 {
    (m as f32 + 0.5 - p.n_det as f32 / 2.0) * p.pitch
}

/// Where ray `u` crosses row `n` (rows-stepping rays: the fractional column) or column `n`
/// (column-stepping rays: the fractional row), in index units.
#[inline(always)]
pub fn ray_coordinate(ray: &Ray, u: f32, n: u32, p: &ProjectorParams) -> f32 {
    if ray.steps_rows == 1 {
        let y = p.n_i as f32 / 2.0 - n as f32 - 0.5;
        (u - y * ray.sin) * ray.inverse + p.n_j as f32 / 2.0 - 0.5
    } else {
        let x = n as f32 + 0.5 - p.n_j as f32 / 2.0;
        p.n_i as f32 / 2.0 - 0.5 - (u - x * ray.cos) * ray.inverse
    }
}

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
        let entries = vec![[0.0; LANES]; (p.n_i as usize + 2) * (p.n_j as usize + 2)];
        SliceBlock { entries, first_k }
    }

    /// The block of `slices` (`[k][i][j]`, at most [`LANES`] of them), the first being `first_k`.
    pub fn gather(slices: &[f32], first_k: usize, p: &ProjectorParams) -> SliceBlock {
        let mut block = SliceBlock::zeros(first_k, p);
        let n_j = p.n_j as usize;
        for (lane, slice) in slices.chunks_exact((p.n_i * p.n_j) as usize).enumerate() {
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
        let n_j = p.n_j as usize;
        for (lane, slice) in slices
            .chunks_exact_mut((p.n_i * p.n_j) as usize)
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
}

/// Walks the ray of detector coordinate `u` through a slice, as Joseph's projector does: at each
/// step n (a row for rows-stepping rays, a column otherwise) whose voxel pair touches the slice, it
/// calls `visit(lower, upper, w)` with the [`SliceBlock`] entries of the voxels at floor(t) and
/// floor(t) + 1, which carry weights 1 − w and w.
#[inline(always)]
pub fn walk_ray(ray: &Ray, u: f32, p: &ProjectorParams, mut visit: impl FnMut(usize, usize, f32)) {
    let width = p.n_j as usize + 2;
    let (steps, across, stride_along, stride_across) = if ray.steps_rows == 1 {
        (p.n_i, p.n_j, width, 1)
    } else {
        (p.n_j, p.n_i, 1, width)
    };
    for n in 0..steps {
        let t = ray_coordinate(ray, u, n, p);
        let lower = t.floor();
        // The pair (lower, lower + 1) touches the slice for lower in [−1, across − 1]; the zero
        // ring holds the one voxel of the pair that may lie outside.
        if lower >= -1.0 && lower < across as f32 {
            let w = t - lower;
            let at = (n as usize + 1) * stride_along + (lower + 1.0) as usize * stride_across;
            visit(at, at + stride_across, w);
        }
    }
}
