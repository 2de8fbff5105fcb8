//! Shared by the CPU twins of `shaders/forward_project.wgsl` and `shaders/back_project.wgsl`: the
//! per-angle ray parameters and the Joseph interpolation coordinate, computed in f32 with the same
//! operations as the shaders' `ray_coordinate`, so that the back projector reproduces the forward
//! projector's weights exactly.

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

/// The forward projector's weight of the voxel at `index` (column for rows-stepping rays, row for
/// column-stepping ones) on a ray crossing at coordinate `t`: linear interpolation between
/// floor(t) and floor(t) + 1, with the same operations as the forward projector.
/// Written as two selects, not branches: which case applies changes from voxel to voxel, and
/// mispredicted branches cost more than the arithmetic.
#[inline(always)]
pub fn joseph_weight(t: f32, index: f32) -> f32 {
    let lower = t.floor();
    let w = t - lower;
    let at_lower = if lower == index { 1.0 - w } else { 0.0 };
    let at_upper = if lower + 1.0 == index { w } else { 0.0 };
    at_lower + at_upper
}

/// Detector pixels whose ray may give the voxel at `index` (on step `n`) a non-zero weight: those
/// whose coordinate on step `n` lies within one voxel of `index`, i.e. within `pixels_per_voxel` of
/// the pixel whose ray crosses the voxel's centre. Returns the first candidate; there are
/// [`candidate_count`] of them (the same for every voxel of a ray, so the loop over them is
/// predictable). Flooring the window's start keeps every such pixel despite rounding; the weights
/// then decide exactly. Candidates off the detector must be skipped.
#[inline(always)]
pub fn first_candidate(ray: &Ray, n: u32, index: u32, p: &ProjectorParams) -> i64 {
    // u of the ray through the voxel's centre, then its (fractional) detector pixel.
    let u = if ray.steps_rows == 1 {
        let x = index as f32 + 0.5 - p.n_j as f32 / 2.0;
        let y = p.n_i as f32 / 2.0 - n as f32 - 0.5;
        x * ray.cos + y * ray.sin
    } else {
        let x = n as f32 + 0.5 - p.n_j as f32 / 2.0;
        let y = p.n_i as f32 / 2.0 - index as f32 - 0.5;
        x * ray.cos + y * ray.sin
    };
    let centre = u / p.pitch - 0.5 + p.n_det as f32 / 2.0;
    (centre - ray.pixels_per_voxel).floor() as i64
}

/// How many pixels from [`first_candidate`] on can touch a voxel: the window is
/// 2·`pixels_per_voxel` wide, and its floored start adds up to one more.
#[inline(always)]
pub fn candidate_count(ray: &Ray) -> i64 {
    (2.0 * ray.pixels_per_voxel).ceil() as i64 + 1
}
