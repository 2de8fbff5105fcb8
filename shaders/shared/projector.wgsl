// Shared by forward_project.wgsl and back_project.wgsl (prepended to each when loaded, after
// grid.wgsl): the ray and geometry uniforms and the Joseph interpolation coordinate, the same
// operations as src/backend/cpu/projector.rs, so both projectors compute identical weights.

struct Ray {
    cos: f32,
    sin: f32,
    steps_rows: u32,
    step_length: f32,
    // 1/cos (rows-stepping) or 1/sin (column-stepping): a multiplication per step, not a division.
    inverse: f32,
    // Detector pixels per voxel along the stepped row or column (the back projector's window).
    pixels_per_voxel: f32,
}

struct Params {
    grid: Grid,
    n_det: u32,
    n_angles: u32,
    pitch: f32,
    padding: u32,
}

fn detector_u(m: u32) -> f32 {
    return (f32(m) + 0.5 - f32(params.n_det) / 2.0) * params.pitch;
}

fn ray_coordinate(ray: Ray, u: f32, n: u32) -> f32 {
    if ray.steps_rows == 1u {
        let y = f32(params.grid.n_i) / 2.0 - f32(n) - 0.5;
        return (u - y * ray.sin) * ray.inverse + f32(params.grid.n_j) / 2.0 - 0.5;
    }
    let x = f32(n) + 0.5 - f32(params.grid.n_j) / 2.0;
    return f32(params.grid.n_i) / 2.0 - 0.5 - (u - x * ray.cos) * ray.inverse;
}
