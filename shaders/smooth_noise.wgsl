// Smooth noise for fitting (docs/METHOD.md §4.3 step 4): p ← p + sqrt(p/λ)·z with a fixed
// standard-normal field z, the Gaussian form of Poisson noise at dose λ. With z fixed the simulated
// curve stays smooth and deterministic in D. Element by element (CPU twin:
// src/backend/cpu/smooth_noise.rs).

struct Params {
    len: u32,
    groups_per_row: u32,
    // 1/λ.
    inverse_dose: f32,
    padding: u32,
}

@group(0) @binding(0) var<storage, read_write> series: array<f32>;
@group(0) @binding(1) var<storage, read> normal: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let n = (group.x + group.y * params.groups_per_row) * 256u + lane;
    if n >= params.len {
        return;
    }
    let p = series[n];
    series[n] = p + sqrt(max(p, 0.0) * params.inverse_dose) * normal[n];
}
