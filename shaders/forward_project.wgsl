// Joseph forward projection of a volume into a tilt series, ASTRA `parallel` conventions
// (docs/METHOD.md §2). One invocation per detector pixel (m, k, angle): it steps through the rows
// (or columns) of slice k and interpolates linearly between the two voxels around the ray (CPU
// twin: src/backend/cpu/forward_project.rs). Structs and helpers: shared/grid.wgsl,
// shared/projector.wgsl.

@group(0) @binding(0) var<storage, read> volume: array<f32>;
@group(0) @binding(1) var<storage, read> rays: array<Ray>;
// [angle][k][m]: one projection image per angle, rows along the tilt axis.
@group(0) @binding(2) var<storage, read_write> series: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// The voxel at (row, column) of slice k, zero outside the slice.
fn voxel(k: u32, row: i32, column: i32) -> f32 {
    if row < 0 || column < 0 || row >= i32(params.grid.n_i) || column >= i32(params.grid.n_j) {
        return 0.0;
    }
    return volume[voxel_index(params.grid, k, u32(row), u32(column))];
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
    let steps = select(params.grid.n_j, params.grid.n_i, ray.steps_rows == 1u);
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
    series[(a * params.grid.n_k + k) * params.n_det + m] = sum * ray.step_length;
}
