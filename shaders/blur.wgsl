// One pass of the separable Gaussian blur (docs/METHOD.md §4.3 step 2): a 1D convolution with
// 2R + 1 normalised taps along one axis, zero outside the volume. Three passes (k, i, j) make the
// 3D blur. One invocation per voxel (CPU twin: src/backend/cpu/blur.rs).

struct Params {
    grid: Grid,
    // 0 = k, 1 = i, 2 = j.
    axis: u32,
    radius: u32,
    padding0: u32,
    padding1: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> taps: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let i = id.y;
    let k = id.z;
    if j >= params.grid.n_j {
        return;
    }
    let n = voxel_index(params.grid, k, i, j);
    var position = j;
    var length = params.grid.n_j;
    var stride = 1u;
    if params.axis == 0u {
        position = k;
        length = params.grid.n_k;
        stride = params.grid.n_i * params.grid.n_j;
    } else if params.axis == 1u {
        position = i;
        length = params.grid.n_i;
        stride = params.grid.n_j;
    }
    let radius = i32(params.radius);
    var sum = 0.0;
    for (var t = 0; t <= 2 * radius; t++) {
        let q = i32(position) + t - radius;
        if q >= 0 && q < i32(length) {
            sum += taps[t] * input[i32(n) + (t - radius) * i32(stride)];
        }
    }
    output[n] = sum;
}
