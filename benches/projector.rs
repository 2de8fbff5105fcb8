//! Projector throughput in voxel·angle updates per second (voxels × angles per second), forward and
//! back, and SIRT iterations per second, CPU and GPU, on the default ±70°/2° series (71 angles).
//! The peer, ASTRA's CPU `linear` projector, is timed by benches/astra_peer.py on the same workload.
//!
//! `cargo bench --bench projector`; `ALLOYFIT_BENCH_SIZES=128,256` picks the slice sizes (n_k = 16
//! slices each: every slice is an independent 2D problem). A lone forward or back projection, as
//! timed here, walks its rays into the CPU's ray table first; SIRT walks them once per run, so its
//! iterations show the projectors' own speed.

use std::hint::black_box;

use alloyfit::Volume;
use alloyfit::backend::gpu::GpuContext;
use alloyfit::backend::{Backend, DeviceChoice, DeviceRequest};
use alloyfit::io::tilts::default_tilts_deg;
use alloyfit::tomography::sirt::{SirtOptions, sirt};
use alloyfit::tomography::{TiltGeometry, back_project, forward_project};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array3;

const SLICES: usize = 16;
const SIRT_ITERATIONS: usize = 5;

fn sizes() -> Vec<usize> {
    std::env::var("ALLOYFIT_BENCH_SIZES")
        .unwrap_or_else(|_| "128".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("ALLOYFIT_BENCH_SIZES: comma-separated slice sizes")
        })
        .collect()
}

fn bench_backend(c: &mut Criterion, name: &str, backend: &Backend) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for n in sizes() {
        let shape = [SLICES, n, n];
        let geometry = TiltGeometry::for_volume(default_tilts_deg(), shape).unwrap();
        let volume = Volume::new(Array3::from_elem(shape, 1.0), 1.0).unwrap();
        let series = Array3::from_elem(geometry.series_shape(shape), 1.0);
        group.throughput(Throughput::Elements((SLICES * n * n * 71) as u64));
        group.bench_function(format!("forward {n}^2 x71"), |b| {
            b.iter(|| forward_project(backend, black_box(&volume), &geometry).unwrap())
        });
        group.bench_function(format!("back {n}^2 x71"), |b| {
            b.iter(|| back_project(backend, black_box(&series), &geometry, shape, 1.0).unwrap())
        });
        // SIRT_ITERATIONS iterations per sample; computing R and C first costs about one more.
        let options = SirtOptions {
            iterations: SIRT_ITERATIONS,
            ..Default::default()
        };
        group.throughput(Throughput::Elements(SIRT_ITERATIONS as u64));
        group.bench_function(
            format!("sirt {n}^2 x71, {SIRT_ITERATIONS} iterations"),
            |b| {
                b.iter(|| {
                    sirt(
                        backend,
                        &series,
                        &geometry,
                        shape,
                        1.0,
                        &options,
                        &mut |_| Ok(()),
                    )
                    .unwrap()
                })
            },
        );
    }
    group.finish();
}

fn projector(c: &mut Criterion) {
    bench_backend(c, "projector_cpu", &Backend::Cpu);
    let request = DeviceRequest {
        choice: DeviceChoice::Gpu,
        adapter: std::env::var("ALLOYFIT_BENCH_ADAPTER").ok(),
    };
    match GpuContext::open(&request) {
        Ok(Some(gpu)) => {
            let name = format!("projector_gpu {}", gpu.describe());
            bench_backend(c, &name, &Backend::Gpu(Box::new(gpu)));
        }
        Ok(None) => unreachable!("--device gpu never answers with the CPU"),
        Err(error) => eprintln!("projector_gpu skipped: {error:#}"),
    }
}

criterion_group!(benches, projector);
criterion_main!(benches);
