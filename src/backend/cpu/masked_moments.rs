//! CPU twin of `shaders/masked_moments.wgsl`: the same 256-voxel chunks, the same f32 tree
//! reduction inside a chunk, one partial per chunk; rayon takes the place of the workgroups.

use rayon::prelude::*;

use crate::backend::Moments;

/// Voxels per partial, the shader's workgroup size.
pub const WORKGROUP_SIZE: usize = 256;

/// One (count, sum, sum of squares) per chunk of [`WORKGROUP_SIZE`] voxels.
pub fn masked_moments_partials(values: &[f32], mask_bits: &[u32]) -> Vec<[f32; 3]> {
    values
        .par_chunks(WORKGROUP_SIZE)
        .enumerate()
        .map(|(group_index, chunk)| {
            let mut scratch = [[0f32; 3]; WORKGROUP_SIZE];
            for (lane, &v) in chunk.iter().enumerate() {
                let n = group_index * WORKGROUP_SIZE + lane;
                if (mask_bits[n / 32] >> (n % 32)) & 1 == 1 {
                    scratch[lane] = [1.0, v, v * v];
                }
            }
            let mut stride = WORKGROUP_SIZE / 2;
            while stride > 0 {
                for lane in 0..stride {
                    let other = scratch[lane + stride];
                    for (s, o) in scratch[lane].iter_mut().zip(other) {
                        *s += o;
                    }
                }
                stride /= 2;
            }
            scratch[0]
        })
        .collect()
}

/// Count, sum and sum of squares of `values` inside the mask (bits as [`crate::volume::Mask::to_bits`]).
pub fn masked_moments(values: &[f32], mask_bits: &[u32]) -> Moments {
    Moments::from_partials(masked_moments_partials(values, mask_bits))
}
