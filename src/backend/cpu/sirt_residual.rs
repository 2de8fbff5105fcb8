//! CPU twin of `shaders/sirt_residual.wgsl`: d = p − A x and w = R ⊙ d, element by element.

use rayon::prelude::*;

pub fn sirt_residual(
    measured: &[f32],
    projected: &[f32],
    row_weights: &[f32],
    residual: &mut [f32],
    weighted: &mut [f32],
) {
    residual
        .par_iter_mut()
        .zip(weighted.par_iter_mut())
        .enumerate()
        .for_each(|(n, (r, w))| {
            let d = measured[n] - projected[n];
            *r = d;
            *w = row_weights[n] * d;
        });
}
