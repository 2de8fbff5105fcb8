//! The fast CPU kernels (src/backend/fast) against their plain twins (src/backend/cpu), which
//! mirror the shaders line for line: the diffusion steps and the forward projector do the same
//! operations in the same order, so they must agree bit for bit; the fast back projector scatters
//! where the twin gathers, and sums each angle's terms in another order, so it agrees to f32
//! rounding.

use alloyfit::backend::cpu;
use alloyfit::backend::fast;
use alloyfit::backend::{Grid, OUTSIDE, ProjectorParams, Ray};
use alloyfit::io::tilts::default_tilts_deg;

/// Values in [−1, 1) from a fixed linear congruential stream.
fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// A composition field in [0, 1] with outside markers scattered through it, as a cropped particle
/// with an irregular surface has.
fn field(shape: [usize; 3], seed: u64) -> Vec<f32> {
    noise(shape.iter().product(), seed)
        .into_iter()
        .map(|v| if v < -0.6 { OUTSIDE } else { 0.5 * (v + 1.0) })
        .collect()
}

#[test]
fn the_fast_diffusion_step_is_the_twin_bit_for_bit() {
    // Rows of one and two voxels (no interior loop), planes below and above a task's run.
    for shape in [
        [1, 1, 1],
        [3, 4, 1],
        [2, 5, 2],
        [5, 7, 3],
        [17, 9, 31],
        [33, 6, 70],
    ] {
        let input = field(shape, 11);
        let mut twin = vec![0.0; input.len()];
        let mut quick = vec![0.0; input.len()];
        cpu::diffusion::diffusion_step(shape, 0.15, &input, &mut twin);
        fast::diffusion::diffusion_step(shape, 0.15, &input, &mut quick);
        assert!(same_bits(&twin, &quick), "{shape:?}: the fast step differs");
        if shape != [1, 1, 1] {
            assert_ne!(twin, input, "{shape:?}: nothing diffused");
        }
    }
}

/// Projector sizes: non-square slices, a detector wider than the slice, a pitch below one voxel,
/// and a slice count that leaves the last block of eight part empty.
fn geometries() -> Vec<(ProjectorParams, Vec<Ray>)> {
    let angles = [
        vec![0.0, 45.0, 90.0, -45.0, 135.0, 180.0],
        vec![44.9, 45.1, -44.99, -45.01, 134.97, 225.02],
        default_tilts_deg(),
    ];
    let mut geometries = Vec::new();
    for angles in angles {
        for (n_det, pitch) in [(26, 1.0), (34, 0.85)] {
            let params = ProjectorParams {
                grid: Grid::new([11, 20, 26]),
                n_det,
                n_angles: angles.len() as u32,
                pitch,
                padding: 0,
            };
            let rays = angles
                .iter()
                .map(|&a| Ray::new(a, f64::from(pitch)))
                .collect();
            geometries.push((params, rays));
        }
    }
    geometries
}

#[test]
fn the_fast_forward_projector_is_the_twin_bit_for_bit() {
    for (p, rays) in geometries() {
        let volume = noise((p.grid.n_k * p.grid.n_i * p.grid.n_j) as usize, 3);
        let len = (p.n_angles * p.grid.n_k * p.n_det) as usize;
        let (mut twin, mut quick) = (vec![0.0; len], vec![0.0; len]);
        cpu::forward_project::forward_project(&volume, &rays, &p, &mut twin);
        let table = fast::projector::RayTable::new(&rays, &p).unwrap();
        fast::forward_project::forward_project(&volume, &table, &mut quick);
        assert!(
            same_bits(&twin, &quick),
            "{} angles, {} pixels at pitch {}",
            p.n_angles,
            p.n_det,
            p.pitch
        );
    }
}

/// The back projectors: each voxel sums a few hundred terms of size one in f32, in two orders, so
/// they differ by a few ulps of the largest value; 1e-5 of it leaves a wide margin.
#[test]
fn the_fast_back_projector_matches_the_twin() {
    for (p, rays) in geometries() {
        let series = noise((p.n_angles * p.grid.n_k * p.n_det) as usize, 4);
        let len = (p.grid.n_k * p.grid.n_i * p.grid.n_j) as usize;
        let (mut twin, mut quick) = (vec![0.0; len], vec![0.0; len]);
        cpu::back_project::back_project(&series, &rays, &p, &mut twin);
        let table = fast::projector::RayTable::new(&rays, &p).unwrap();
        fast::back_project::back_project(&series, &table, &mut quick);
        let scale = twin.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = twin
            .iter()
            .zip(&quick)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            scale > 0.0 && worst <= 1e-5 * scale,
            "{} angles, {} pixels: max difference {worst} of {scale}",
            p.n_angles,
            p.n_det
        );
    }
}
