//! Every shader against its CPU twin on a real wgpu adapter (lavapipe in CI), and every file in
//! shaders/ parsed and validated by naga, so a broken shader fails here and not at a user's run.

mod common;

use alloyfit::backend::Backend;
use alloyfit::backend::cpu::masked_moments::masked_moments;
use alloyfit::backend::gpu::shader_source;
use alloyfit::phantom::{PhantomOptions, find_particle, voxelize};
use alloyfit::{Mask, Volume};
use ndarray::Array3;

#[test]
fn every_shader_parses_and_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy();
        let source = shader_source(&name)
            .unwrap_or_else(|| panic!("{}: not loaded by the GPU context", path.display()));
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        checked += 1;
    }
    assert!(checked > 0, "no shaders found in {}", dir.display());
}

/// Relative agreement of GPU and CPU moments. Both tree-reduce the same 256-voxel chunks in f32 and
/// add the partials in f64, so only the order of f32 operations inside the hardware can differ.
const MOMENTS_REL_TOL: f64 = 1e-6;

fn assert_moments_agree(volume: &Volume, mask: &Mask) {
    let Some(gpu) = common::gpu() else { return };
    let cpu = masked_moments(volume.as_slice(), &mask.to_bits());
    let on_gpu = Backend::Gpu(Box::new(gpu))
        .masked_moments(volume, mask)
        .unwrap();
    for (name, c, g) in [
        ("count", cpu.count, on_gpu.count),
        ("sum", cpu.sum, on_gpu.sum),
        ("sum_sq", cpu.sum_sq, on_gpu.sum_sq),
    ] {
        assert!(
            (c - g).abs() <= MOMENTS_REL_TOL * c.abs(),
            "{name}: cpu {c} gpu {g}"
        );
    }
    assert_eq!(cpu.count, mask.count() as f64);
}

#[test]
fn masked_moments_gpu_matches_cpu_on_a_phantom() {
    let particle = find_particle("NC2").unwrap();
    let phantom = voxelize(&particle, &PhantomOptions::default()).unwrap();
    assert_moments_agree(&phantom.composition, &phantom.mask);
}

#[test]
fn masked_moments_gpu_matches_cpu_on_an_odd_sized_grid() {
    // 7 x 11 x 13 = 1001 voxels: a partial last workgroup and mask words that straddle rows.
    let data = Array3::from_shape_fn([7, 11, 13], |(k, i, j)| {
        ((k * 131 + i * 17 + j * 7) % 23) as f32 * 0.37 - 2.0
    });
    let mask = Mask::new(data.mapv(|v| v > -1.0), 0.5).unwrap();
    assert_moments_agree(&Volume::new(data, 0.5).unwrap(), &mask);
}

#[test]
fn masked_moments_cpu_matches_a_plain_f64_sum() {
    let data = Array3::from_shape_fn([5, 6, 7], |(k, i, j)| (k + 2 * i + 3 * j) as f32 * 0.1);
    let mask = Mask::new(data.mapv(|v| v > 1.0), 1.0).unwrap();
    let moments = masked_moments(data.as_slice().unwrap(), &mask.to_bits());
    let inside: Vec<f64> = data
        .iter()
        .zip(mask.data())
        .filter(|&(_, &m)| m)
        .map(|(&v, _)| f64::from(v))
        .collect();
    let sum: f64 = inside.iter().sum();
    let sum_sq: f64 = inside.iter().map(|v| v * v).sum();
    assert_eq!(moments.count, inside.len() as f64);
    assert!((moments.sum - sum).abs() < 1e-6 * sum);
    assert!((moments.sum_sq - sum_sq).abs() < 1e-6 * sum_sq);
}

#[test]
fn a_buffer_over_the_adapter_limit_is_refused_with_size_and_limit() {
    let Some(gpu) = common::gpu() else { return };
    let summary = gpu.summary().clone();
    let limit = summary
        .max_storage_buffer_binding_size
        .min(summary.max_buffer_size);
    assert!(gpu.check_fits("volume", limit).is_ok());
    let message = gpu.check_fits("volume", limit + 4).unwrap_err().to_string();
    for expected in [
        (limit + 4).to_string(),
        limit.to_string(),
        summary.name.clone(),
    ] {
        assert!(
            message.contains(&expected),
            "'{expected}' missing: {message}"
        );
    }
}
