//! Diffusion stencil throughput in voxel updates per second, CPU and GPU, on a fully masked cube
//! (every voxel updated), beside the machine's memory copy bandwidth: a step reads and writes each
//! voxel once, so 8 bytes per update is the bound's unit (docs/PERFORMANCE.md).
//!
//! `cargo bench --bench diffusion`; `ALLOYFIT_BENCH_SIZES=64,128,256,512` picks the cube edges.

use std::hint::black_box;

use alloyfit::backend::DeviceChoice;
use alloyfit::backend::DeviceRequest;
use alloyfit::backend::fast::diffusion::{diffusion_step, diffusion_two_steps};
use alloyfit::backend::gpu::GpuContext;
use alloyfit::backend::{GpuKernels, Kernels};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

const BETA: f32 = 0.15;
/// GPU steps per timed iteration: enough that one submit's overhead does not dominate.
const GPU_STEPS: u64 = 32;

fn sizes() -> Vec<usize> {
    std::env::var("ALLOYFIT_BENCH_SIZES")
        .unwrap_or_else(|_| "64,128,256".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("ALLOYFIT_BENCH_SIZES: comma-separated cube edges")
        })
        .collect()
}

fn start_field(n: usize) -> Vec<f32> {
    (0..n * n * n).map(|v| (v % 97) as f32 / 97.0).collect()
}

fn copy_bandwidth(c: &mut Criterion) {
    let bytes = 256 << 20;
    let source = vec![1u8; bytes];
    let mut target = vec![0u8; bytes];
    let mut group = c.benchmark_group("memory_copy");
    group.sample_size(10);
    // A copy reads and writes every byte: count both, as the stencil's 8 bytes do.
    group.throughput(Throughput::Bytes(2 * bytes as u64));
    group.bench_function("256MiB 1 thread", |b| {
        b.iter(|| target.copy_from_slice(black_box(&source)))
    });
    // The stencil runs on every core, so its bound is the copy bandwidth of every core.
    group.bench_function("256MiB all threads", |b| {
        b.iter(|| {
            target
                .par_chunks_mut(1 << 20)
                .zip(black_box(&source).par_chunks(1 << 20))
                .for_each(|(t, s)| t.copy_from_slice(s))
        })
    });
    group.finish();
}

fn stencil_cpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("stencil_cpu");
    group.sample_size(10);
    for n in sizes() {
        let field_in = start_field(n);
        let mut field_out = vec![0.0; field_in.len()];
        group.throughput(Throughput::Elements(field_in.len() as u64));
        group.bench_function(format!("{n}^3"), |b| {
            b.iter(|| diffusion_step([n; 3], BETA, black_box(&field_in), &mut field_out))
        });
        // Two steps per sweep: twice the updates for each read and write of the fields.
        group.throughput(Throughput::Elements(2 * field_in.len() as u64));
        group.bench_function(format!("{n}^3 two steps per sweep"), |b| {
            b.iter(|| diffusion_two_steps([n; 3], BETA, black_box(&field_in), &mut field_out))
        });
    }
    group.finish();
}

fn stencil_gpu(c: &mut Criterion) {
    let request = DeviceRequest {
        choice: DeviceChoice::Gpu,
        adapter: std::env::var("ALLOYFIT_BENCH_ADAPTER").ok(),
    };
    let gpu = match GpuContext::open(&request) {
        Ok(Some(gpu)) => gpu,
        Ok(None) => unreachable!("--device gpu never answers with the CPU"),
        Err(error) => {
            eprintln!("stencil_gpu skipped: {error:#}");
            return;
        }
    };
    let mut group = c.benchmark_group(format!("stencil_gpu {}", gpu.describe()));
    group.sample_size(10);
    for n in sizes() {
        let field = start_field(n);
        let kernels = GpuKernels { gpu: &gpu };
        let (mut a, mut b) = match (kernels.upload(&field), kernels.upload(&field)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(error), _) | (_, Err(error)) => {
                eprintln!("{n}^3 skipped: {error:#}");
                continue;
            }
        };
        group.throughput(Throughput::Elements(GPU_STEPS * field.len() as u64));
        group.bench_function(format!("{n}^3 x{GPU_STEPS}"), |bencher| {
            bencher.iter(|| {
                let mut encoder = kernels.encoder();
                kernels
                    .diffusion_steps(&mut encoder, [n; 3], BETA, &mut a, &mut b, GPU_STEPS)
                    .unwrap();
                kernels.submit(encoder);
                gpu.finish().unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, copy_bandwidth, stencil_cpu, stencil_gpu);
criterion_main!(benches);
