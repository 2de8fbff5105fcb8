// SIRT update (docs/METHOD.md §4.3): x ← clamp(x + λ·C ⊙ Aᵀ(R ⊙ d), min, max) inside the
// reconstruction mask, 0 outside, element by element over the volume (CPU twin:
// src/backend/cpu/sirt_update.rs).

struct Params {
    len: u32,
    groups_per_row: u32,
    relaxation: f32,
    min_value: f32,
    max_value: f32,
    // Scalars, not a vec3: a vec3 aligns to 16 bytes and would make the struct 48 bytes, not 32.
    padding0: u32,
    padding1: u32,
    padding2: u32,
}

@group(0) @binding(0) var<storage, read_write> volume: array<f32>;
@group(0) @binding(1) var<storage, read> back_projected: array<f32>;
@group(0) @binding(2) var<storage, read> column_weights: array<f32>;
@group(0) @binding(3) var<storage, read> mask_bits: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let n = (group.x + group.y * params.groups_per_row) * 256u + lane;
    if n >= params.len {
        return;
    }
    if ((mask_bits[n / 32u] >> (n % 32u)) & 1u) == 0u {
        volume[n] = 0.0;
        return;
    }
    let x = volume[n] + params.relaxation * column_weights[n] * back_projected[n];
    volume[n] = clamp(x, params.min_value, params.max_value);
}
