// Shared by the per-voxel shaders (prepended to each when loaded): the voxel grid [k][i][j], k
// slowest and along the tilt axis (CPU twin: src/backend/cpu/grid.rs). A uniform member of struct
// type takes a 16-byte slot, so the grid's fourth word is padding.

struct Grid {
    n_k: u32,
    n_i: u32,
    n_j: u32,
    padding: u32,
}

// The linear index of voxel (k, i, j).
fn voxel_index(grid: Grid, k: u32, i: u32, j: u32) -> u32 {
    return (k * grid.n_i + i) * grid.n_j + j;
}
