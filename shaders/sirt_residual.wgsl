// SIRT residual (docs/METHOD.md §4.3): d = p − A x and its row-weighted form w = R ⊙ d, element by
// element over the tilt series (CPU twin: src/backend/cpu/sirt_residual.rs).

struct Params {
    len: u32,
    // Workgroups per row of the 2D dispatch: one dimension holds at most 65535 workgroups.
    groups_per_row: u32,
}

@group(0) @binding(0) var<storage, read> measured: array<f32>;
@group(0) @binding(1) var<storage, read> projected: array<f32>;
@group(0) @binding(2) var<storage, read> row_weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> weighted: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let n = (group.x + group.y * params.groups_per_row) * 256u + lane;
    if n >= params.len {
        return;
    }
    let d = measured[n] - projected[n];
    residual[n] = d;
    weighted[n] = row_weights[n] * d;
}
