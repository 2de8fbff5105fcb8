//! What a fit costs (docs/PERFORMANCE.md): one imaging-chain run (intensity, blur, 71 projections,
//! noise, 50 SIRT iterations, moments) of NC1 at 1 nm, the unit every simulated spread costs, on the
//! CPU and on a GPU when there is one; and a whole table-mode fit (quantification, dose
//! calibration, the tau table, the search) of a synthetic NC1 experiment at a coarser voxel.
//!
//! `cargo bench --bench fit`; `ALLOYFIT_BENCH_CHAIN_VOXEL_NM` (default 1) and
//! `ALLOYFIT_BENCH_FIT_VOXEL_NM` (default 3) pick the voxel sizes.

use alloyfit::analysis::prepare_experiment;
use alloyfit::backend::gpu::GpuContext;
use alloyfit::backend::{Backend, DeviceChoice, DeviceRequest};
use alloyfit::diffusion::{BETA_DEFAULT, Trajectory, tau_nm2};
use alloyfit::experiment::{DEFAULT_TIMES_S, LoadedExperiment};
use alloyfit::fit::{TABLE_POINTS_DEFAULT, fit};
use alloyfit::imaging::{AnalysisRegion, ImagingChain, ImagingParams, Noise};
use alloyfit::io::{Overwrite, StagedDir};
use alloyfit::phantom::{PhantomOptions, find_particle, voxelize};
use alloyfit::progress::Silent;
use alloyfit::synth::{SynthConfig, synthesize};
use criterion::{Criterion, criterion_group, criterion_main};

const SIRT_ITERATIONS: usize = 50;

fn voxel_nm(variable: &str, default: f64) -> f64 {
    std::env::var(variable).map_or(default, |text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{variable}: a voxel size in nm"))
    })
}

fn chain_run(c: &mut Criterion, name: &str, backend: &Backend) {
    let voxel = voxel_nm("ALLOYFIT_BENCH_CHAIN_VOXEL_NM", 1.0);
    let phantom = voxelize(
        &find_particle("NC1").unwrap(),
        &PhantomOptions {
            voxel_nm: voxel,
            ..PhantomOptions::default()
        },
    )
    .unwrap();
    let params = ImagingParams {
        sirt_iterations: SIRT_ITERATIONS,
        ..ImagingParams::defaults(voxel)
    };
    let mut chain = ImagingChain::new(
        backend,
        &params,
        &AnalysisRegion::new(&phantom.mask).unwrap(),
    )
    .unwrap();
    let mut state =
        Trajectory::new(backend, &phantom.composition, &phantom.mask, BETA_DEFAULT).unwrap();
    state.advance_to(tau_nm2(2.7e-19, 60.0)).unwrap();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    let shape = phantom.mask.shape();
    group.bench_function(
        format!(
            "chain run NC1 {voxel} nm {}x{}x{}, {SIRT_ITERATIONS} SIRT iterations",
            shape[0], shape[1], shape[2]
        ),
        |b| {
            b.iter(|| {
                chain
                    .image(&state, Noise::Smooth { dose: 100.0 }, false)
                    .unwrap()
            })
        },
    );
    group.finish();
}

fn whole_fit(c: &mut Criterion) {
    let voxel = voxel_nm("ALLOYFIT_BENCH_FIT_VOXEL_NM", 3.0);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nc1");
    let staged = StagedDir::create(&out, Overwrite::Refuse).unwrap();
    let config = SynthConfig {
        phantom: "NC1".into(),
        d_m2s: 2.7e-19,
        voxel_nm: voxel,
        times_s: DEFAULT_TIMES_S.to_vec(),
        dose: 100.0,
        seed: 7,
        tilts: "-70:70:2".into(),
        imaging: ImagingParams {
            sirt_iterations: SIRT_ITERATIONS,
            noise_seed: 7,
            ..ImagingParams::defaults(voxel)
        },
        beta: BETA_DEFAULT,
        // On the fit's own grid: this times the fit, not the data.
        oversample: 1,
        fov_voxels: None,
        shape_jitter_nm: None,
    };
    synthesize(&Backend::Cpu, &config, &staged, &mut Silent).unwrap();
    staged.commit().unwrap();
    let loaded = LoadedExperiment::load(&out.join("experiment.toml")).unwrap();
    let mut group = c.benchmark_group("fit_cpu");
    group.sample_size(10);
    group.bench_function(
        format!("table fit NC1 {voxel} nm, 10 times, {SIRT_ITERATIONS} SIRT iterations"),
        |b| {
            b.iter(|| {
                let backend = Backend::Cpu;
                let (_, quantified, mut simulator) =
                    prepare_experiment(&backend, &loaded, &mut Silent).unwrap();
                fit(
                    &backend,
                    &quantified.quantification,
                    &mut simulator,
                    &loaded.experiment.fit,
                    TABLE_POINTS_DEFAULT,
                    &mut Silent,
                )
                .unwrap()
            })
        },
    );
    group.finish();
}

fn fit_costs(c: &mut Criterion) {
    chain_run(c, "chain_cpu", &Backend::Cpu);
    let request = DeviceRequest {
        choice: DeviceChoice::Gpu,
        adapter: std::env::var("ALLOYFIT_BENCH_ADAPTER").ok(),
    };
    match GpuContext::open(&request) {
        Ok(Some(gpu)) => {
            let name = format!("chain_gpu {}", gpu.describe());
            chain_run(c, &name, &Backend::Gpu(Box::new(gpu)));
        }
        Ok(None) => unreachable!("--device gpu never answers with the CPU"),
        Err(error) => eprintln!("chain_gpu skipped: {error:#}"),
    }
    whole_fit(c);
}

criterion_group!(benches, fit_costs);
criterion_main!(benches);
