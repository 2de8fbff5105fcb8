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
}

impl Ray {
    pub fn new(angle_deg: f64) -> Ray {
        let (sin, cos) = angle_deg.to_radians().sin_cos();
        let steps_rows = cos.abs() >= sin.abs();
        Ray {
            cos: cos as f32,
            sin: sin as f32,
            steps_rows: u32::from(steps_rows),
            step_length: (1.0 / cos.abs().max(sin.abs())) as f32,
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
        (u - y * ray.sin) / ray.cos + p.n_j as f32 / 2.0 - 0.5
    } else {
        let x = n as f32 + 0.5 - p.n_j as f32 / 2.0;
        p.n_i as f32 / 2.0 - 0.5 - (u - x * ray.cos) / ray.sin
    }
}

/// The forward projector's weight of the voxel at `index` (column for rows-stepping rays, row for
/// column-stepping ones) on a ray crossing at coordinate `t`: linear interpolation between
/// floor(t) and floor(t) + 1, with the same operations as the forward projector.
#[inline(always)]
pub fn joseph_weight(t: f32, index: i64) -> f32 {
    let lower = t.floor();
    let w = t - lower;
    let l = lower as i64;
    if l == index {
        1.0 - w
    } else if l + 1 == index {
        w
    } else {
        0.0
    }
}

/// Detector pixels whose ray may give the voxel at `index` (on step `n`) a non-zero weight: those
/// whose coordinate on step `n` lies in [index − 1, index + 1), widened by one pixel for rounding
/// (the weights decide exactly), clamped to the detector. Empty when `first > last`.
#[inline(always)]
pub fn candidate_pixels(ray: &Ray, n: u32, index: u32, p: &ProjectorParams) -> (i64, i64) {
    // u where the coordinate on step n equals t, inverted from `ray_coordinate`.
    let u_at = |t: f32| {
        if ray.steps_rows == 1 {
            let y = p.n_i as f32 / 2.0 - n as f32 - 0.5;
            (t - p.n_j as f32 / 2.0 + 0.5) * ray.cos + y * ray.sin
        } else {
            let x = n as f32 + 0.5 - p.n_j as f32 / 2.0;
            x * ray.cos + (p.n_i as f32 / 2.0 - 0.5 - t) * ray.sin
        }
    };
    let m_at = |u: f32| u / p.pitch - 0.5 + p.n_det as f32 / 2.0;
    let a = m_at(u_at(index as f32 - 1.0));
    let b = m_at(u_at(index as f32 + 1.0));
    let first = (a.min(b).floor() as i64 - 1).max(0);
    let last = (a.max(b).ceil() as i64 + 1).min(i64::from(p.n_det) - 1);
    (first, last)
}
