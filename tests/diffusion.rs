//! The diffusion engine against exact properties of the masked explicit scheme (docs/METHOD.md
//! §4.1, §6): conservation, the maximum principle, the discrete eigenvalue decay of a cosine mode,
//! the erf solution of a step, no leaks through an irregular mask, tau invariance, and GPU = CPU.

mod common;

use std::f64::consts::PI;

use alloyfit::backend::Backend;
use alloyfit::backend::gpu::GpuContext;
use alloyfit::diffusion::{BETA_DEFAULT, StepPlan, Trajectory, check_beta, prepare_mask, tau_nm2};
use alloyfit::phantom::{PhantomOptions, find_particle, voxelize};
use alloyfit::{Mask, Volume};
use ndarray::Array3;

fn full_mask(shape: [usize; 3], voxel_nm: f64) -> Mask {
    Mask::new(Array3::from_elem(shape, true), voxel_nm).unwrap()
}

/// Diffuses `c0` in a fully masked box at 1 nm to `tau` on the CPU.
fn diffuse_box(c0: Array3<f32>, tau: f64) -> Volume {
    let shape = [c0.shape()[0], c0.shape()[1], c0.shape()[2]];
    let backend = Backend::Cpu;
    let mut trajectory = Trajectory::new(
        &backend,
        &Volume::new(c0, 1.0).unwrap(),
        &full_mask(shape, 1.0),
        BETA_DEFAULT,
    )
    .unwrap();
    trajectory.advance_to(tau).unwrap();
    trajectory.snapshot_volume().unwrap()
}

/// tau of `steps` full steps at the default β on a grid of `voxel_nm`.
fn tau_of_steps(steps: u64, voxel_nm: f64) -> f64 {
    steps as f64 * BETA_DEFAULT * voxel_nm * voxel_nm
}

fn sphere(n: usize, radius: f64) -> (Volume, Mask) {
    let centre = n as f64 / 2.0;
    let inside = Array3::from_shape_fn([n, n, n], |(k, i, j)| {
        let d = [k, i, j].map(|x| x as f64 + 0.5 - centre);
        d.iter().map(|x| x * x).sum::<f64>() <= radius * radius
    });
    // A deterministic rough start: the core-shell-like profile plus a checkerboard.
    let composition = Array3::from_shape_fn([n, n, n], |(k, i, j)| {
        if !inside[[k, i, j]] {
            return 0.0;
        }
        let r = [k, i, j]
            .map(|x| x as f64 + 0.5 - centre)
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt();
        let core = if r < radius / 2.0 { 0.9 } else { 0.05 };
        core + 0.05 * ((k + i + j) % 2) as f32
    });
    (
        Volume::new(composition, 1.0).unwrap(),
        Mask::new(inside, 1.0).unwrap(),
    )
}

#[test]
fn mass_is_conserved_and_nothing_leaks_from_a_sphere_over_10000_steps() {
    let (c0, mask) = sphere(24, 10.3);
    let backend = Backend::Cpu;
    let mut trajectory = Trajectory::new(&backend, &c0, &mask, BETA_DEFAULT).unwrap();
    let start = trajectory.snapshot_moments().unwrap();
    let (low, high) = (0.05f32, 0.95f32);
    for checkpoint in 1..=10 {
        trajectory
            .advance_to(tau_of_steps(1000 * checkpoint, 1.0))
            .unwrap();
        let moments = trajectory.snapshot_moments().unwrap();
        let drift = (moments.sum / start.sum - 1.0).abs();
        assert!(
            drift < 1e-6,
            "step {}: relative drift {drift:e}",
            1000 * checkpoint
        );
        let volume = trajectory.snapshot_volume().unwrap();
        for (&c, &inside) in volume.data().iter().zip(mask.data()) {
            if inside {
                assert!((low..=high).contains(&c), "maximum principle broken: {c}");
            } else {
                assert_eq!(c, 0.0, "composition leaked out of the mask");
            }
        }
    }
    assert_eq!(trajectory.full_steps_done(), 10_000);
}

/// The Neumann eigenmode cos(π m (x + ½)/N) of the discrete masked Laplacian decays by
/// (1 − β Σ 2(1 − cos(π m_a / N_a))) per step.
#[test]
fn a_cosine_mode_decays_at_the_discrete_eigenvalue_rate() {
    let shape = [12, 16, 32];
    let modes = [1usize, 1, 1];
    let mode = Array3::from_shape_fn(shape, |(k, i, j)| {
        [k, i, j]
            .iter()
            .zip(modes)
            .zip(shape)
            .map(|((&x, m), n)| (PI * m as f64 * (x as f64 + 0.5) / n as f64).cos())
            .product::<f64>()
    });
    let amplitude = 0.2;
    let c0 = mode.mapv(|v| (0.5 + amplitude * v) as f32);
    // The mode keeps 35% of its amplitude: far above f32 rounding of values near 0.5.
    let steps = 60;
    let after = diffuse_box(c0, tau_of_steps(steps, 1.0));
    let measured = after
        .data()
        .iter()
        .zip(&mode)
        .map(|(&c, &m)| (f64::from(c) - 0.5) * m)
        .sum::<f64>()
        / mode.iter().map(|m| m * m).sum::<f64>();
    let eigenvalue: f64 = modes
        .iter()
        .zip(shape)
        .map(|(&m, n)| 2.0 * (1.0 - (PI * m as f64 / n as f64).cos()))
        .sum();
    let expected = amplitude * (1.0 - BETA_DEFAULT * eigenvalue).powi(steps as i32);
    let relative = (measured / expected - 1.0).abs();
    assert!(
        relative < 1e-4,
        "amplitude {measured} vs {expected}: {relative:e}"
    );
}

/// erfc to 1.2e-7 (Numerical Recipes' Chebyshev fit), since std has no erf.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 { value } else { 2.0 - value }
}

/// A step between two half-boxes at 1 nm resolution with 2√τ = 10 nm: C = ½ erfc(x / 2√τ).
#[test]
fn a_step_between_half_boxes_follows_the_erf_solution() {
    let shape = [2, 2, 200];
    let interface = 100.0;
    let c0 = Array3::from_shape_fn(shape, |(_, _, j)| if j < 100 { 1.0f32 } else { 0.0 });
    let tau = 25.0;
    let after = diffuse_box(c0, tau);
    let mut worst: f64 = 0.0;
    // Away from the walls: 2√τ = 10 voxels, the walls are 100 voxels from the interface.
    for j in 50..150 {
        let x = j as f64 + 0.5 - interface;
        let exact = 0.5 * erfc(x / (2.0 * tau.sqrt()));
        worst = worst.max((f64::from(after.data()[[0, 0, j]]) - exact).abs());
    }
    assert!(worst < 0.01, "max error {worst}");
}

#[test]
fn only_tau_matters_and_trajectories_equal_fresh_runs() {
    let (c0, mask) = sphere(16, 6.8);
    let backend = Backend::Cpu;
    let run = |taus: &[f64]| {
        let mut trajectory = Trajectory::new(&backend, &c0, &mask, BETA_DEFAULT).unwrap();
        for &tau in taus {
            trajectory.advance_to(tau).unwrap();
        }
        trajectory.snapshot_volume().unwrap()
    };
    let d_m2s = 2.7e-19;
    let (t1, t2) = (15.0, 60.0);
    assert_eq!(
        run(&[tau_nm2(d_m2s, t2)]),
        run(&[tau_nm2(d_m2s / 4.0, 4.0 * t2)]),
        "(D, t) and (D/4, 4t) differ"
    );
    // 4.05 nm² and 16.2 nm² are not whole numbers of steps: both need a partial step.
    assert_eq!(
        run(&[tau_nm2(d_m2s, t1), tau_nm2(d_m2s, t2)]),
        run(&[tau_nm2(d_m2s, t2)]),
        "a trajectory through t1 differs from a fresh run to t2"
    );
}

#[test]
fn step_plans_land_exactly_and_beta_above_a_sixth_is_refused() {
    let plan = StepPlan::new(1.0, 0.15, 1.0);
    assert_eq!(plan.full_steps, 6);
    assert!((plan.partial_beta.unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(plan.total_steps(), 7); // ceil(1 / 0.15)
    assert_eq!(StepPlan::new(0.6, 0.15, 2.0).total_steps(), 1);
    assert_eq!(StepPlan::new(0.0, 0.15, 1.0).total_steps(), 0);
    let plan = StepPlan::new(0.15 * 3.0, 0.15, 1.0);
    assert_eq!((plan.full_steps, plan.partial_beta), (3, None));
    let error = check_beta(0.2).unwrap_err().to_string();
    assert!(
        error.contains("1/6") && error.contains("unstable"),
        "{error}"
    );
    assert!(check_beta(1.0 / 6.0).is_ok());
}

#[test]
fn decreasing_taus_and_out_of_range_compositions_are_refused() {
    let (c0, mask) = sphere(8, 3.0);
    let backend = Backend::Cpu;
    let mut trajectory = Trajectory::new(&backend, &c0, &mask, BETA_DEFAULT).unwrap();
    trajectory.advance_to(2.0).unwrap();
    let error = trajectory.advance_to(1.0).unwrap_err().to_string();
    assert!(error.contains("taus must increase"), "{error}");
    let mut bad = c0.clone();
    bad.data_mut()[[4, 4, 4]] = 1.5;
    let error = Trajectory::new(&backend, &bad, &mask, BETA_DEFAULT)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("[0, 1]"), "{error}");
}

/// GPU and CPU fields after the same steps: differences come only from fused multiply-adds and
/// accumulate to a few f32 ulps of values in [0, 1] over 1,000 steps.
const GPU_CPU_ABS_TOL: f32 = 1e-5;

fn assert_gpu_matches_cpu(gpu: GpuContext, c0: &Volume, mask: &Mask, tau: f64) {
    let run = |backend: &Backend| {
        let mut trajectory = Trajectory::new(backend, c0, mask, BETA_DEFAULT).unwrap();
        trajectory.advance_to(tau).unwrap();
        (
            trajectory.snapshot_volume().unwrap(),
            trajectory.snapshot_moments().unwrap(),
        )
    };
    let (cpu, cpu_moments) = run(&Backend::Cpu);
    let (on_gpu, gpu_moments) = run(&Backend::Gpu(Box::new(gpu)));
    let worst = cpu
        .data()
        .iter()
        .zip(on_gpu.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= GPU_CPU_ABS_TOL, "max |gpu − cpu| = {worst:e}");
    assert!((gpu_moments.sum / cpu_moments.sum - 1.0).abs() < 1e-6);
}

#[test]
fn gpu_matches_cpu_after_1000_steps_on_nc1_at_1_nm() {
    let Some(gpu) = common::gpu() else { return };
    let phantom = voxelize(&find_particle("NC1").unwrap(), &PhantomOptions::default()).unwrap();
    let prepared = prepare_mask(&phantom.composition, &phantom.mask, None).unwrap();
    // 999 full steps and one partial one, so both kernels' paths run.
    let tau = tau_of_steps(999, 1.0) + 0.5 * tau_of_steps(1, 1.0);
    assert_gpu_matches_cpu(gpu, &prepared.composition, &prepared.mask, tau);
}

/// Whether two fields hold the same f32 bits voxel for voxel.
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The fused sweep is two single steps, bit for bit: on an irregular mask (outside markers inside
/// the grid), with plane counts below, at and above its 16-plane task runs.
#[test]
fn two_steps_per_sweep_equal_two_single_steps_bit_for_bit() {
    use alloyfit::backend::OUTSIDE;
    use alloyfit::backend::fast::diffusion::{diffusion_step, diffusion_two_steps};
    for n_k in [1, 2, 5, 16, 17, 33] {
        let shape = [n_k, 11, 13];
        let field: Vec<f32> = (0..n_k * 11 * 13)
            .map(|v| {
                if v % 7 == 3 || v % 11 == 0 {
                    OUTSIDE
                } else {
                    ((v * 37) % 101) as f32 / 101.0
                }
            })
            .collect();
        let mut once = vec![0.0; field.len()];
        let mut twice = vec![0.0; field.len()];
        diffusion_step(shape, 0.15, &field, &mut once);
        diffusion_step(shape, 0.15, &once, &mut twice);
        let mut fused = vec![0.0; field.len()];
        diffusion_two_steps(shape, 0.15, &field, &mut fused);
        assert!(
            same_bits(&fused, &twice),
            "{n_k} planes: the fused sweep differs from two steps"
        );
        assert_ne!(fused, field, "{n_k} planes: nothing diffused");
    }
}

/// A field above the fused sweep's size threshold, 3 steps (one fused sweep and one single step):
/// the same as 3 single steps, with the result left in the state.
#[test]
fn many_steps_on_a_large_field_equal_single_steps() {
    use alloyfit::backend::fast::diffusion::{
        FUSED_SWEEP_MIN_VOXELS, diffusion_step, diffusion_steps,
    };
    let shape = [FUSED_SWEEP_MIN_VOXELS / (128 * 128) + 1, 128, 128];
    let start: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|v| ((v * 37) % 101) as f32 / 101.0)
        .collect();
    let mut state = start.clone();
    let mut spare = vec![0.0; start.len()];
    diffusion_steps(shape, 0.15, &mut state, &mut spare, 3);
    let mut expected = start.clone();
    let mut scratch = vec![0.0; start.len()];
    for _ in 0..3 {
        diffusion_step(shape, 0.15, &expected, &mut scratch);
        std::mem::swap(&mut expected, &mut scratch);
    }
    assert!(state.len() > FUSED_SWEEP_MIN_VOXELS);
    assert!(
        same_bits(&state, &expected),
        "3 steps on a large field differ from 3 single steps"
    );
}
