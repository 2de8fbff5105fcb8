// One explicit Euler step of Fick's law on the masked 7-point stencil (docs/METHOD.md §4.1):
// c' = c + beta * sum over the 6 neighbours inside the mask of (c_j - c). One invocation per voxel,
// a workgroup per 64 voxels of a row (CPU twin: src/backend/cpu/diffusion.rs).
//
// Voxels outside the mask hold OUTSIDE (< 0) in the field itself, so the kernel reads one array:
// 4 bytes in and 4 out per voxel, the least a stencil can move. The maximum principle keeps
// inside values in [0, 1] for beta <= 1/6, so they never collide with the marker.

struct Params {
    grid: Grid,
    beta: f32,
    padding0: u32,
    padding1: u32,
    padding2: u32,
}

@group(0) @binding(0) var<storage, read> field_in: array<f32>;
@group(0) @binding(1) var<storage, read_write> field_out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// A neighbour's contribution: zero flux through faces to outside voxels and the grid's edge.
fn flux(c_j: f32, c: f32) -> f32 {
    return select(0.0, c_j - c, c_j >= 0.0);
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let i = id.y;
    let k = id.z;
    if j >= params.grid.n_j {
        return;
    }
    let row = params.grid.n_j;
    let plane = params.grid.n_i * params.grid.n_j;
    let n = k * plane + i * row + j;
    let c = field_in[n];
    if c < 0.0 {
        field_out[n] = c;
        return;
    }
    var sum = 0.0;
    if k > 0u { sum += flux(field_in[n - plane], c); }
    if k + 1u < params.grid.n_k { sum += flux(field_in[n + plane], c); }
    if i > 0u { sum += flux(field_in[n - row], c); }
    if i + 1u < params.grid.n_i { sum += flux(field_in[n + row], c); }
    if j > 0u { sum += flux(field_in[n - 1u], c); }
    if j + 1u < params.grid.n_j { sum += flux(field_in[n + 1u], c); }
    field_out[n] = c + params.beta * sum;
}
