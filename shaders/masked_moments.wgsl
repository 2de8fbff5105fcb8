// Masked moments: count, sum and sum of squares of the voxels inside a bit-packed mask.
// Each workgroup tree-reduces 256 consecutive voxels in shared memory and writes one partial;
// the host adds the partials in f64 (CPU twin: src/backend/cpu/masked_moments.rs).

struct Params {
    voxel_count: u32,
    // Workgroups per row of the 2D dispatch: one dimension holds at most 65535 workgroups.
    groups_per_row: u32,
}

const WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read> mask_bits: array<u32>;
// One (count, sum, sum of squares, unused) per workgroup.
@group(0) @binding(2) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> scratch: array<vec3<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let group_index = group.x + group.y * params.groups_per_row;
    let n = group_index * WORKGROUP_SIZE + lane;
    var moment = vec3<f32>(0.0);
    if n < params.voxel_count && ((mask_bits[n / 32u] >> (n % 32u)) & 1u) == 1u {
        let v = values[n];
        moment = vec3<f32>(1.0, v, v * v);
    }
    scratch[lane] = moment;
    workgroupBarrier();
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
        if lane < stride {
            scratch[lane] += scratch[lane + stride];
        }
        workgroupBarrier();
    }
    if lane == 0u {
        partials[group_index] = vec4<f32>(scratch[0], 0.0);
    }
}
