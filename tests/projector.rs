//! The projector pair against exact properties (docs/METHOD.md §6): the back projector is the
//! transpose of the forward projector, a uniform disk projects to its chord lengths, a single voxel
//! lands where ASTRA's formula puts it, and GPU = CPU.

mod common;

use alloyfit::Volume;
use alloyfit::backend::Backend;
use alloyfit::io::tilts::default_tilts_deg;
use alloyfit::tomography::{TiltGeometry, TiltSeries, back_project, forward_project};
use ndarray::Array3;

/// A deterministic pseudo-random field in [-1, 1) (a 64-bit LCG; tests need no rand crate).
fn noise(shape: [usize; 3], seed: u64) -> Array3<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    Array3::from_shape_simple_fn(shape, || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    })
}

fn dot(a: &Array3<f32>, b: &Array3<f32>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

fn angle_sets() -> Vec<(&'static str, Vec<f64>)> {
    vec![
        (
            "axes and diagonals",
            vec![0.0, 45.0, 90.0, -45.0, 135.0, 180.0],
        ),
        (
            "near the dominant-axis switch",
            vec![44.9, 45.1, -44.99, -45.01, 134.97, 225.02],
        ),
        ("default ±70° series", default_tilts_deg()),
    ]
}

/// ⟨A x, y⟩ = ⟨x, Aᵀ y⟩: the back projector uses the forward projector's own weights, so the two
/// sides differ only by the order of f32 additions (relative 1e-5 leaves a wide margin).
fn assert_adjoint(backend: &Backend) {
    // Non-square slices and a detector wider than the slice, with a non-unit pitch.
    let shape = [3, 20, 26];
    for (name, angles) in angle_sets() {
        for (n_det, pitch) in [(26, 1.0), (34, 0.85)] {
            let geometry = TiltGeometry::new(angles.clone(), n_det, pitch).unwrap();
            let x = Volume::new(noise(shape, 1), 1.0).unwrap();
            let y: TiltSeries = noise(geometry.series_shape(shape), 2);
            let ax = forward_project(backend, &x, &geometry).unwrap();
            let aty = back_project(backend, &y, &geometry, shape, 1.0).unwrap();
            let (left, right) = (dot(&ax, &y), dot(x.data(), aty.data()));
            let relative = (left - right).abs() / left.abs().max(right.abs());
            assert!(
                relative < 1e-5,
                "{name}, pitch {pitch}: <Ax,y> = {left}, <x,A^T y> = {right} ({relative:e})"
            );
        }
    }
}

#[test]
fn back_projection_is_the_transpose_on_the_cpu() {
    assert_adjoint(&Backend::Cpu);
}

#[test]
fn back_projection_is_the_transpose_on_the_gpu() {
    let Some(gpu) = common::gpu() else { return };
    assert_adjoint(&Backend::Gpu(Box::new(gpu)));
}

/// Projections and back projections agree to 1e-5 of their largest value: the same f32 formulas,
/// up to the GPU's fused multiply-adds.
#[test]
fn gpu_projections_match_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let gpu = Backend::Gpu(Box::new(gpu));
    let shape = [4, 33, 40];
    let geometry = TiltGeometry::for_volume(default_tilts_deg(), shape).unwrap();
    let x = Volume::new(noise(shape, 3).mapv(f32::abs), 1.0).unwrap();
    let y: TiltSeries = noise(geometry.series_shape(shape), 4).mapv(f32::abs);
    let close = |a: &Array3<f32>, b: &Array3<f32>, what: &str| {
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(b)
            .fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(
            worst <= 1e-5 * scale,
            "{what}: max difference {worst} of {scale}"
        );
    };
    close(
        &forward_project(&Backend::Cpu, &x, &geometry).unwrap(),
        &forward_project(&gpu, &x, &geometry).unwrap(),
        "forward projection",
    );
    close(
        back_project(&Backend::Cpu, &y, &geometry, shape, 1.0)
            .unwrap()
            .data(),
        back_project(&gpu, &y, &geometry, shape, 1.0)
            .unwrap()
            .data(),
        "back projection",
    );
}

/// A uniform disk of radius 64 voxels (area fractions from 8×8 sub-samples) projects to
/// 2·sqrt(r² − u²) within 1% wherever the chord is well resolved (|u| ≤ r − 4).
#[test]
fn a_uniform_disk_projects_to_its_chord_lengths() {
    let (n, radius) = (160usize, 64.0f64);
    let disk = Array3::from_shape_fn([1, n, n], |(_, i, j)| {
        let mut inside = 0;
        for a in 0..8 {
            for b in 0..8 {
                let x = j as f64 + (b as f64 + 0.5) / 8.0 - n as f64 / 2.0;
                let y = n as f64 / 2.0 - i as f64 - (a as f64 + 0.5) / 8.0;
                inside += usize::from(x * x + y * y <= radius * radius);
            }
        }
        inside as f32 / 64.0
    });
    let angles = vec![0.0, 17.0, 45.0, -63.0, 70.0];
    let geometry = TiltGeometry::for_volume(angles.clone(), [1, n, n]).unwrap();
    let series =
        forward_project(&Backend::Cpu, &Volume::new(disk, 1.0).unwrap(), &geometry).unwrap();
    for (a, angle) in angles.iter().enumerate() {
        for m in 0..n {
            let u = m as f64 + 0.5 - n as f64 / 2.0;
            if u.abs() > radius - 4.0 {
                continue;
            }
            let chord = 2.0 * (radius * radius - u * u).sqrt();
            let measured = f64::from(series[[a, 0, m]]);
            let relative = (measured / chord - 1.0).abs();
            assert!(relative < 0.01, "{angle}°, u = {u}: {measured} vs {chord}");
        }
    }
}

/// One voxel off the centre lands on the detector pixel holding u = x·cosθ + y·sinθ (ASTRA).
#[test]
fn a_single_voxel_lands_where_the_astra_formula_puts_it() {
    let (n, i, j) = (48usize, 9usize, 31usize);
    let mut data = Array3::zeros([1, n, n]);
    data[[0, i, j]] = 1.0;
    let (x, y) = (
        j as f64 + 0.5 - n as f64 / 2.0,
        n as f64 / 2.0 - i as f64 - 0.5,
    );
    let angles: Vec<f64> = (-7..=9).map(|a| f64::from(a) * 10.0 + 3.0).collect();
    let geometry = TiltGeometry::for_volume(angles.clone(), [1, n, n]).unwrap();
    let series =
        forward_project(&Backend::Cpu, &Volume::new(data, 1.0).unwrap(), &geometry).unwrap();
    for (a, angle) in angles.iter().enumerate() {
        let (sin, cos) = angle.to_radians().sin_cos();
        let u = x * cos + y * sin;
        let expected = (u + n as f64 / 2.0).floor() as usize;
        let row = series.slice(ndarray::s![a, 0, ..]);
        let brightest = (0..n).max_by(|&p, &q| row[p].total_cmp(&row[q])).unwrap();
        assert_eq!(brightest, expected, "{angle}°: u = {u}, projection {row}");
    }
}

#[test]
fn bad_geometries_and_series_are_refused() {
    assert!(
        TiltGeometry::new(vec![], 10, 1.0)
            .unwrap_err()
            .to_string()
            .contains("empty")
    );
    assert!(
        TiltGeometry::new(vec![0.0, f64::NAN], 10, 1.0)
            .unwrap_err()
            .to_string()
            .contains("finite")
    );
    let geometry = TiltGeometry::for_volume(vec![0.0, 10.0], [2, 8, 8]).unwrap();
    let wrong = Array3::zeros([3, 2, 8]);
    let error = back_project(&Backend::Cpu, &wrong, &geometry, [2, 8, 8], 1.0)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("[3, 2, 8]") && error.contains("[2, 2, 8]"),
        "{error}"
    );
}
