//! The device check's kernel timings (scripts/gpu-check.sh), on the first GPU adapter or the one
//! `ALLOYFIT_BENCH_ADAPTER` names: the device's copy bandwidth, the diffusion stencil against it
//! (a step reads and writes each voxel once, 8 bytes per update, docs/PERFORMANCE.md), and the
//! projectors in voxel·angle updates per second at 71 angles. Not a criterion benchmark: one
//! warm-up, then the best of a few runs, printed as `name|value|unit|note` lines for the script's
//! table. `ALLOYFIT_BENCH_SIZES=STENCIL,PROJECTOR` gives the cube edge of the stencil and of the
//! projected volume (default 256,256; the script's small mode uses 64,64).

use std::time::Instant;

use anyhow::{Context, Result};

use alloyfit::backend::gpu::GpuContext;
use alloyfit::backend::{DeviceChoice, DeviceRequest, GpuKernels, Kernels};
use alloyfit::io::tilts::default_tilts_deg;
use alloyfit::tomography::TiltGeometry;

/// Timed runs per measurement; the best is kept (the others include the device's warm-up).
const RUNS: usize = 5;
/// Diffusion steps per timed submit.
const STEPS: u64 = 64;

/// The best of [`RUNS`] runs of `work` (after one warm-up), in seconds; `work` must wait for the
/// device before it returns.
fn best_seconds(mut work: impl FnMut() -> Result<()>) -> Result<f64> {
    work()?;
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let started = Instant::now();
        work()?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn sizes() -> Result<(usize, usize)> {
    let text = std::env::var("ALLOYFIT_BENCH_SIZES").unwrap_or_else(|_| "256,256".into());
    let sizes: Vec<usize> = text
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .context("ALLOYFIT_BENCH_SIZES: two cube edges, STENCIL,PROJECTOR")?;
    match sizes[..] {
        [stencil, projector] => Ok((stencil, projector)),
        _ => anyhow::bail!("ALLOYFIT_BENCH_SIZES: two cube edges, STENCIL,PROJECTOR"),
    }
}

fn main() -> Result<()> {
    let (stencil_n, projector_n) = sizes()?;
    let request = DeviceRequest {
        choice: DeviceChoice::Gpu,
        adapter: std::env::var("ALLOYFIT_BENCH_ADAPTER").ok(),
    };
    let gpu = GpuContext::open(&request)?.context("--device gpu found no adapter")?;
    let k = GpuKernels { gpu: &gpu };
    println!("adapter|{}||", gpu.describe());

    let voxels = stencil_n.pow(3);
    let field: Vec<f32> = (0..voxels).map(|v| (v % 97) as f32 / 97.0).collect();
    let (mut a, mut b) = (k.upload(&field)?, k.upload(&field)?);
    let copy_s = best_seconds(|| {
        let mut encoder = k.encoder();
        k.copy(&mut encoder, &a, &mut b)?;
        k.submit(encoder);
        gpu.finish()
    })?;
    // A copy reads and writes every byte once.
    let bandwidth = 2.0 * 4.0 * voxels as f64 / copy_s;
    println!(
        "copy bandwidth|{:.1}|GB/s|{stencil_n}³ f32, read + write",
        bandwidth / 1e9
    );
    let stencil_s = best_seconds(|| {
        let mut encoder = k.encoder();
        k.diffusion_steps(&mut encoder, [stencil_n; 3], 0.15, &mut a, &mut b, STEPS)?;
        k.submit(encoder);
        gpu.finish()
    })?;
    let updates = STEPS as f64 * voxels as f64 / stencil_s;
    println!(
        "stencil|{:.2}|G voxel updates/s|{stencil_n}³, {:.0}% of the copy bandwidth at 8 B/update",
        updates / 1e9,
        100.0 * 8.0 * updates / bandwidth
    );

    let shape = [projector_n; 3];
    let geometry = TiltGeometry::for_volume(default_tilts_deg(), shape)?;
    let rays = geometry.rays();
    let params = geometry.params(shape)?;
    let on_device = k.geometry(&rays, &params)?;
    let volume = k.upload(&vec![1.0; projector_n.pow(3)])?;
    let mut series = k.zeros(geometry.series_shape(shape).iter().product())?;
    let mut back = k.zeros(projector_n.pow(3))?;
    let voxel_angles = projector_n.pow(3) as f64 * rays.len() as f64;
    for (name, forward) in [("forward projection", true), ("back projection", false)] {
        let seconds = best_seconds(|| {
            let mut encoder = k.encoder();
            if forward {
                k.forward(&mut encoder, &on_device, &volume, &mut series);
            } else {
                k.back(&mut encoder, &on_device, &series, &mut back);
            }
            k.submit(encoder);
            gpu.finish()
        })?;
        println!(
            "{name}|{:.2}|G voxel·angle/s|{projector_n}³, {} angles",
            voxel_angles / seconds / 1e9,
            rays.len()
        );
    }
    Ok(())
}
