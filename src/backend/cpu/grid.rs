//! CPU twin of `shaders/shared/grid.wgsl`: the voxel grid `[k][i][j]` the per-voxel kernels share,
//! as the first member of their uniforms. The shader's `voxel_index` is the twins'
//! `(k·n_i + i)·n_j + j`, which they compute in usize: the CPU path takes volumes past the 2³²
//! voxels a GPU buffer index holds.

/// A grid of `[n_k, n_i, n_j]` voxels. WGSL gives a uniform member of struct type a 16-byte slot,
/// hence the padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Grid {
    pub n_k: u32,
    pub n_i: u32,
    pub n_j: u32,
    pub padding: u32,
}

impl Grid {
    pub fn new([n_k, n_i, n_j]: [u32; 3]) -> Grid {
        Grid {
            n_k,
            n_i,
            n_j,
            padding: 0,
        }
    }
}
