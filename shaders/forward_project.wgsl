// Joseph forward projection of a volume into a tilt series, ASTRA `parallel` conventions
// (DESIGN.md §2). One invocation per detector pixel (m, k, angle): it steps through the rows (or
// columns) of slice k and interpolates linearly between the two voxels around the ray
// (CPU twin: src/backend/cpu/forward_project.rs).

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
    n_k: u32,
    n_i: u32,
    n_j: u32,
    n_det: u32,
    n_angles: u32,
    pitch: f32,
    padding: vec2<u32>,
}

@group(0) @binding(0) var<storage, read> volume: array<f32>;
@group(0) @binding(1) var<storage, read> rays: array<Ray>;
// [angle][k][m]: one projection image per angle, rows along the tilt axis.
@group(0) @binding(2) var<storage, read_write> series: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn detector_u(m: u32) -> f32 {
    return (f32(m) + 0.5 - f32(params.n_det) / 2.0) * params.pitch;
}

fn ray_coordinate(ray: Ray, u: f32, n: u32) -> f32 {
    if ray.steps_rows == 1u {
        let y = f32(params.n_i) / 2.0 - f32(n) - 0.5;
        return (u - y * ray.sin) * ray.inverse + f32(params.n_j) / 2.0 - 0.5;
    }
    let x = f32(n) + 0.5 - f32(params.n_j) / 2.0;
    return f32(params.n_i) / 2.0 - 0.5 - (u - x * ray.cos) * ray.inverse;
}

// The voxel at (row, column) of slice k, zero outside the slice.
fn voxel(k: u32, row: i32, column: i32) -> f32 {
    if row < 0 || column < 0 || row >= i32(params.n_i) || column >= i32(params.n_j) {
        return 0.0;
    }
    return volume[(k * params.n_i + u32(row)) * params.n_j + u32(column)];
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let m = id.x;
    let k = id.y;
    let a = id.z;
    if m >= params.n_det {
        return;
    }
    let ray = rays[a];
    let u = detector_u(m);
    let steps = select(params.n_j, params.n_i, ray.steps_rows == 1u);
    var sum = 0.0;
    for (var n = 0u; n < steps; n++) {
        let t = ray_coordinate(ray, u, n);
        let lower = floor(t);
        let w = t - lower;
        let l = i32(lower);
        if ray.steps_rows == 1u {
            sum += (1.0 - w) * voxel(k, i32(n), l) + w * voxel(k, i32(n), l + 1);
        } else {
            sum += (1.0 - w) * voxel(k, l, i32(n)) + w * voxel(k, l + 1, i32(n));
        }
    }
    series[(a * params.n_k + k) * params.n_det + m] = sum * ray.step_length;
}
