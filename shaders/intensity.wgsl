// Intensity of a composition field (docs/METHOD.md §4.3 step 1): I = M·(1 + (r − 1)·C) on the full
// grid, from a field cropped to the particle's bounding box whose outside voxels hold a negative
// marker (see diffusion.wgsl). One invocation per output voxel (CPU twin:
// src/backend/cpu/intensity.rs).

struct Params {
    grid: Grid,
    // r − 1, with r = I_Au / I_Ag.
    contrast_minus_one: f32,
    // Where the crop starts in the grid imaged, and its shape; k0 modulo 2^32, as a slab of the
    // grid may start inside the crop.
    k0: u32,
    i0: u32,
    j0: u32,
    crop_k: u32,
    crop_i: u32,
    crop_j: u32,
    padding: u32,
}

@group(0) @binding(0) var<storage, read> field: array<f32>;
@group(0) @binding(1) var<storage, read_write> intensity: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let i = id.y;
    let k = id.z;
    if j >= params.grid.n_j {
        return;
    }
    let n = voxel_index(params.grid, k, i, j);
    // Unsigned wrap-around turns a position before the crop into a huge one, outside it too.
    let ck = k - params.k0;
    let ci = i - params.i0;
    let cj = j - params.j0;
    var value = 0.0;
    if ck < params.crop_k && ci < params.crop_i && cj < params.crop_j {
        let c = field[(ck * params.crop_i + ci) * params.crop_j + cj];
        if c >= 0.0 {
            value = 1.0 + params.contrast_minus_one * c;
        }
    }
    intensity[n] = value;
}
