// Back projection, the exact transpose of forward_project.wgsl. One invocation per voxel (j, i, k)
// gathers, for every angle, the few detector pixels whose rays touch it, with the forward
// projector's own interpolation weights; no atomics (CPU twin: src/backend/cpu/back_project.rs).
// Structs and helpers: shared/grid.wgsl, shared/projector.wgsl.

@group(0) @binding(0) var<storage, read> series: array<f32>;
@group(0) @binding(1) var<storage, read> rays: array<Ray>;
@group(0) @binding(2) var<storage, read_write> volume: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn joseph_weight(t: f32, index: f32) -> f32 {
    let lower = floor(t);
    let w = t - lower;
    return select(0.0, 1.0 - w, lower == index) + select(0.0, w, lower + 1.0 == index);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let i = id.y;
    let k = id.z;
    if j >= params.grid.n_j {
        return;
    }
    var sum = 0.0;
    for (var a = 0u; a < params.n_angles; a++) {
        let ray = rays[a];
        let n = select(j, i, ray.steps_rows == 1u);
        let index = select(i, j, ray.steps_rows == 1u);
        // Pixels whose ray passes within one voxel of this one, along the stepped row or column:
        // a window 2 * pixels_per_voxel wide; flooring its start keeps every one despite
        // rounding, and the weights decide exactly.
        let x = f32(j) + 0.5 - f32(params.grid.n_j) / 2.0;
        let y = f32(params.grid.n_i) / 2.0 - f32(i) - 0.5;
        let centre = (x * ray.cos + y * ray.sin) / params.pitch - 0.5 + f32(params.n_det) / 2.0;
        let first = i32(floor(centre - ray.pixels_per_voxel));
        let count = i32(ceil(2.0 * ray.pixels_per_voxel)) + 1;
        var along = 0.0;
        for (var m = first; m < first + count; m++) {
            if m < 0 || m >= i32(params.n_det) {
                continue;
            }
            let t = ray_coordinate(ray, detector_u(u32(m)), n);
            along += joseph_weight(t, f32(index)) * series[(a * params.grid.n_k + k) * params.n_det + u32(m)];
        }
        sum += along * ray.step_length;
    }
    volume[voxel_index(params.grid, k, i, j)] = sum;
}
