//! Fast diffusion steps: [`crate::backend::cpu::diffusion`]'s stencil with the same outside marker
//! and the same order of additions (k−, k+, i−, i+, j−, j+), so both give the same bits. Rayon runs
//! one k-plane per task; inside a row the interior voxels form a branch-free loop that the compiler
//! vectorises (a neighbour beyond the grid reads as outside and adds a zero flux).
//! [`diffusion_two_steps`] fuses two steps into one sweep, bit-identical to two of them, so that a
//! field larger than the caches crosses the memory bus once per two steps; the GPU records one
//! dispatch per step instead.

use rayon::prelude::*;

use super::{Vectorised, run_vectorised};
use crate::backend::cpu::diffusion::{OUTSIDE, flux, plane_len};

/// `field_out = field_in + beta · Σ_inside-neighbours (c_j − c)`, on a grid of `[n_k, n_i, n_j]`.
pub fn diffusion_step(shape: [usize; 3], beta: f32, field_in: &[f32], field_out: &mut [f32]) {
    let plane = plane_len(shape, field_in, field_out);
    let input = |k: usize| &field_in[k * plane..(k + 1) * plane];
    field_out
        .par_chunks_mut(plane)
        .enumerate()
        .for_each(|(k, out_plane)| update_plane(shape, k, beta, input, out_plane));
}

/// One step of k-plane `k` into `out`, the plane and its k-neighbours read through `plane_of` (the
/// input field, or the fused sweep's ring of intermediate planes).
#[inline(always)]
fn update_plane<'a>(
    shape: [usize; 3],
    k: usize,
    beta: f32,
    plane_of: impl Fn(usize) -> &'a [f32],
    out: &mut [f32],
) {
    let [n_k, _, n_j] = shape;
    run_vectorised(UpdatePlane {
        around: Planes {
            centre: plane_of(k),
            k_minus: k.checked_sub(1).map(&plane_of),
            k_plus: (k + 1 < n_k).then(|| plane_of(k + 1)),
            n_j,
        },
        beta,
        out,
    });
}

/// Fields of more voxels than this (32 MiB of f32, the L3 cache of the machines measured) take two
/// steps per sweep. A smaller field stays in cache, where the fused sweep's extra work costs more than
/// the memory traffic it saves (dev VM: 0–15% slower at 128³, 8–43% faster at 256³;
/// docs/PERFORMANCE.md).
pub const FUSED_SWEEP_MIN_VOXELS: usize = 1 << 23;

/// `steps` steps from `state`, leaving the result in `state` (`spare` is scratch): the CPU twin of a
/// GPU submit of many steps. Large fields go two steps per sweep ([`diffusion_two_steps`]).
pub fn diffusion_steps(
    shape: [usize; 3],
    beta: f32,
    state: &mut Vec<f32>,
    spare: &mut Vec<f32>,
    steps: u64,
) {
    let fused = state.len() > FUSED_SWEEP_MIN_VOXELS;
    let mut left = steps;
    while left > 0 {
        if fused && left >= 2 {
            diffusion_two_steps(shape, beta, state, spare);
            left -= 2;
        } else {
            diffusion_step(shape, beta, state, spare);
            left -= 1;
        }
        std::mem::swap(state, spare);
    }
}

/// Output planes per task of [`diffusion_two_steps`]: each task also computes the intermediate
/// plane on either side of its run, so 16 planes recompute 2 in 16.
const TWO_STEP_PLANES_PER_TASK: usize = 16;

/// Two steps in one sweep: `field_out` = step(step(`field_in`)), bit-identical to two calls of
/// [`diffusion_step`] but reading and writing each field once instead of twice, which is what bounds
/// a step on a field larger than the caches. Each task takes a run of output planes and keeps the
/// intermediate planes it needs (its run and one more on each side) in a ring of three.
pub fn diffusion_two_steps(shape: [usize; 3], beta: f32, field_in: &[f32], field_out: &mut [f32]) {
    let plane = plane_len(shape, field_in, field_out);
    let n_k = shape[0];
    let input = |k: usize| &field_in[k * plane..(k + 1) * plane];
    field_out
        .par_chunks_mut(TWO_STEP_PLANES_PER_TASK * plane)
        .enumerate()
        .for_each(|(task, out_run)| {
            let first_k = task * TWO_STEP_PLANES_PER_TASK;
            let mut ring = vec![0.0f32; 3 * plane];
            // The intermediate plane k lives in ring slot k % 3; `next_mid` is the next to compute.
            let mut next_mid = first_k.saturating_sub(1);
            for (offset, out_plane) in out_run.chunks_exact_mut(plane).enumerate() {
                let k = first_k + offset;
                while next_mid <= (k + 1).min(n_k - 1) {
                    let slot = next_mid % 3;
                    let mid_plane = &mut ring[slot * plane..(slot + 1) * plane];
                    update_plane(shape, next_mid, beta, input, mid_plane);
                    next_mid += 1;
                }
                let mid = |k: usize| &ring[(k % 3) * plane..(k % 3 + 1) * plane];
                update_plane(shape, k, beta, mid, out_plane);
            }
        });
}

/// The input planes around one output plane; `None` beyond the grid's edge (outside).
#[derive(Clone, Copy)]
struct Planes<'a> {
    centre: &'a [f32],
    k_minus: Option<&'a [f32]>,
    k_plus: Option<&'a [f32]>,
    n_j: usize,
}

/// Updates one k-plane.
struct UpdatePlane<'a> {
    around: Planes<'a>,
    beta: f32,
    out: &'a mut [f32],
}

impl Vectorised for UpdatePlane<'_> {
    #[inline(always)]
    fn run(self) {
        plane_kernel(self.around, self.beta, self.out);
    }
}

#[inline(always)]
fn row(field: &[f32], i: usize, n_j: usize) -> &[f32] {
    &field[i * n_j..(i + 1) * n_j]
}

#[inline(always)]
fn plane_kernel(around: Planes, beta: f32, out: &mut [f32]) {
    let n_j = around.n_j;
    let n_i = out.len() / n_j;
    for (i, out_row) in out.chunks_exact_mut(n_j).enumerate() {
        let rows = Rows {
            centre: row(around.centre, i, n_j),
            neighbours: [
                around.k_minus.map(|p| row(p, i, n_j)),
                around.k_plus.map(|p| row(p, i, n_j)),
                (i > 0).then(|| row(around.centre, i - 1, n_j)),
                (i + 1 < n_i).then(|| row(around.centre, i + 1, n_j)),
            ],
        };
        update_row(rows, beta, out_row);
    }
}

/// A row and its k−, k+, i−, i+ neighbour rows (`None`: beyond the grid, outside).
struct Rows<'a> {
    centre: &'a [f32],
    neighbours: [Option<&'a [f32]>; 4],
}

#[inline(always)]
fn update_voxel(c: f32, neighbours: [f32; 6], beta: f32) -> f32 {
    let mut sum = 0.0;
    for c_j in neighbours {
        sum += flux(c_j, c);
    }
    if c < 0.0 { c } else { c + beta * sum }
}

#[inline(always)]
fn update_row(rows: Rows, beta: f32, out: &mut [f32]) {
    let n_j = out.len();
    let centre = rows.centre;
    let at = |r: Option<&[f32]>, j: usize| r.map_or(OUTSIDE, |r| r[j]);
    let [k_minus, k_plus, i_minus, i_plus] = rows.neighbours;
    let edge = |j: usize, west: f32, east: f32| {
        let around = [
            at(k_minus, j),
            at(k_plus, j),
            at(i_minus, j),
            at(i_plus, j),
            west,
            east,
        ];
        update_voxel(centre[j], around, beta)
    };
    let last = n_j - 1;
    out[0] = edge(0, OUTSIDE, if n_j > 1 { centre[1] } else { OUTSIDE });
    if n_j > 1 {
        out[last] = edge(last, centre[last - 1], OUTSIDE);
    }
    if n_j < 3 {
        return;
    }
    // Equal-length views of the interior let the compiler drop bounds checks and vectorise. A
    // missing neighbour row (the grid's edge, rare) reads the centre row, whose flux is zero.
    let len = n_j - 2;
    let c_row = &centre[1..=len];
    let [a, b, d, e] = [k_minus, k_plus, i_minus, i_plus].map(|r| r.map_or(c_row, |r| &r[1..=len]));
    let (west, east) = (&centre[..len], &centre[2..len + 2]);
    let out = &mut out[1..=len];
    for j in 0..len {
        out[j] = update_voxel(c_row[j], [a[j], b[j], d[j], e[j], west[j], east[j]], beta);
    }
}
