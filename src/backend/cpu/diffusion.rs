//! CPU twin of `shaders/diffusion.wgsl`: one explicit step of the masked 7-point stencil, the same
//! outside marker (any negative value) and the same order of additions (k−, k+, i−, i+, j−, j+), so
//! both give the same result up to the GPU's fused multiply-adds. Rayon runs one k-plane per task;
//! inside a row the interior voxels form a branch-free loop the compiler vectorises.

use rayon::prelude::*;

/// The value voxels outside the mask hold.
pub const OUTSIDE: f32 = -1.0;

fn flux(c_j: f32, c: f32) -> f32 {
    if c_j >= 0.0 { c_j - c } else { 0.0 }
}

/// `field_out = field_in + beta · Σ_inside-neighbours (c_j − c)`, on a grid of `[n_k, n_i, n_j]`.
pub fn diffusion_step(shape: [usize; 3], beta: f32, field_in: &[f32], field_out: &mut [f32]) {
    let [n_k, n_i, n_j] = shape;
    let plane = n_i * n_j;
    assert_eq!(
        field_in.len(),
        n_k * plane,
        "field does not match its shape"
    );
    assert_eq!(field_out.len(), field_in.len(), "fields differ in size");
    // Rows beyond the grid's edge read as outside, so only the j ends need their own cases.
    let outside_row = vec![OUTSIDE; n_j];
    field_out
        .par_chunks_mut(plane)
        .enumerate()
        .for_each(|(k, out_plane)| {
            for (i, out) in out_plane.chunks_mut(n_j).enumerate() {
                let row = |k: Option<usize>, i: Option<usize>| match (k, i) {
                    (Some(k), Some(i)) if k < n_k && i < n_i => {
                        &field_in[k * plane + i * n_j..k * plane + (i + 1) * n_j]
                    }
                    _ => &outside_row[..],
                };
                let centre = row(Some(k), Some(i));
                let k_minus = row(k.checked_sub(1), Some(i));
                let k_plus = row(Some(k + 1), Some(i));
                let i_minus = row(Some(k), i.checked_sub(1));
                let i_plus = row(Some(k), Some(i + 1));
                let update = |j: usize| {
                    let c = centre[j];
                    if c < 0.0 {
                        return c;
                    }
                    let mut sum = 0.0;
                    sum += flux(k_minus[j], c);
                    sum += flux(k_plus[j], c);
                    sum += flux(i_minus[j], c);
                    sum += flux(i_plus[j], c);
                    if j > 0 {
                        sum += flux(centre[j - 1], c);
                    }
                    if j + 1 < n_j {
                        sum += flux(centre[j + 1], c);
                    }
                    c + beta * sum
                };
                for (j, value) in out.iter_mut().enumerate() {
                    *value = update(j);
                }
            }
        });
}
