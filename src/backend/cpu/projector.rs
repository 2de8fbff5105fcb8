//! CPU twin of `shaders/shared/projector.wgsl`, shared by both projectors' twins and by the fast
//! projectors: the per-angle ray parameters and the Joseph interpolation coordinate, computed in
//! f32 with the same operations as the shaders' `ray_coordinate`, so that the back projector
//! reproduces the forward projector's weights exactly.

use super::grid::Grid;

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
    pub grid: Grid,
    pub n_det: u32,
    pub n_angles: u32,
    /// Detector pitch in voxels.
    pub pitch: f32,
    pub padding: u32,
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
        let y = p.grid.n_i as f32 / 2.0 - n as f32 - 0.5;
        (u - y * ray.sin) * ray.inverse + p.grid.n_j as f32 / 2.0 - 0.5
    } else {
        let x = n as f32 + 0.5 - p.grid.n_j as f32 / 2.0;
        p.grid.n_i as f32 / 2.0 - 0.5 - (u - x * ray.cos) * ray.inverse
    }
}
