//! The imaging chain against what it must do (docs/METHOD.md §4.3–4.4): the blur has the stated
//! variance, the missing wedge leaves spread in a perfectly alloyed particle that full coverage
//! removes, the GPU matches the CPU for the whole chain, and noise is reproducible.

mod common;

use alloyfit::analysis::uniform_in;
use alloyfit::backend::Backend;
use alloyfit::diffusion::{BETA_DEFAULT, Trajectory};
use alloyfit::imaging::quantify::{composition_map, two_phase};
use alloyfit::imaging::start_state::{MATCH_STEPS, MatchInput, matched_start};
use alloyfit::imaging::{
    AnalysisRegion, ImagingChain, ImagingParams, Noise, alloying_degree, gaussian_taps,
};
use alloyfit::io::tilts::parse_tilt_spec;
use alloyfit::phantom::{Phantom, PhantomOptions, find_particle, voxelize};
use alloyfit::progress::Silent;
use alloyfit::{Mask, Volume};
use ndarray::{Array3, s};

fn phantom(name: &str, voxel_nm: f64) -> Phantom {
    let options = PhantomOptions {
        voxel_nm,
        ..PhantomOptions::default()
    };
    voxelize(&find_particle(name).unwrap(), &options).unwrap()
}

/// The particle with its mean composition everywhere inside: the fully alloyed state.
fn alloyed(phantom: &Phantom) -> Volume {
    let mean = Backend::Cpu
        .masked_moments(&phantom.composition, &phantom.mask)
        .unwrap()
        .mean();
    uniform_in(&phantom.mask, mean).unwrap()
}

fn spreads(backend: &Backend, params: &ImagingParams, phantom: &Phantom, noise: Noise) -> [f64; 2] {
    let mut chain = ImagingChain::new(
        backend,
        params,
        &AnalysisRegion::new(&phantom.mask).unwrap(),
    )
    .unwrap();
    [phantom.composition.clone(), alloyed(phantom)].map(|c| {
        let state = Trajectory::new(backend, &c, &phantom.mask, BETA_DEFAULT).unwrap();
        chain.image(&state, noise, false).unwrap().spread()
    })
}

#[test]
fn missing_wedge_leaves_spread_in_a_perfectly_alloyed_particle() {
    let nc1 = phantom("NC1", 3.0);
    let mut params = ImagingParams::defaults(3.0);
    params.blur_sigma_nm = 0.0;
    let [initial, alloyed] = spreads(&Backend::Cpu, &params, &nc1, Noise::None);
    let wedge_fraction = alloyed / initial;
    params.tilt_angles_deg = parse_tilt_spec("-90:88:2").unwrap();
    params.sirt_iterations = 100;
    let [initial_full, alloyed_full] = spreads(&Backend::Cpu, &params, &nc1, Noise::None);
    let full_fraction = alloyed_full / initial_full;
    eprintln!("S_100/S(0): ±70° {wedge_fraction:.3}, full coverage {full_fraction:.3}");
    assert!(wedge_fraction > 0.2, "±70°: {wedge_fraction}");
    assert!(
        full_fraction < 0.6 * wedge_fraction,
        "full: {full_fraction}"
    );
}

#[test]
fn blurred_point_has_the_stated_variance_per_axis() {
    let n = 41;
    for sigma in [1.0, 1.5, 2.3] {
        let taps = gaussian_taps(sigma);
        let mut point = vec![0.0f32; n * n * n];
        point[(n / 2 * n + n / 2) * n + n / 2] = 1.0;
        let blurred =
            Array3::from_shape_vec([n, n, n], Backend::Cpu.blur(&point, [n; 3], &taps).unwrap())
                .unwrap();
        let total: f64 = blurred.iter().map(|&v| f64::from(v)).sum();
        assert!((total - 1.0).abs() < 1e-5, "mass {total}");
        let mut variance = [0.0f64; 3];
        for ((k, i, j), &v) in blurred.indexed_iter() {
            for (axis, p) in [k, i, j].into_iter().enumerate() {
                variance[axis] += f64::from(v) * (p as f64 - (n / 2) as f64).powi(2);
            }
        }
        for (axis, v) in variance.iter().enumerate() {
            let relative = v / (sigma * sigma) - 1.0;
            assert!(
                relative.abs() < 1e-3,
                "sigma {sigma} axis {axis}: variance {v}"
            );
        }
    }
}

/// α at a partly diffused state, and the three spreads behind it, through the whole chain.
fn alloying_through_chain(backend: &Backend, noise: Noise) -> [f64; 4] {
    let nc1 = phantom("NC1", 3.0);
    let mut params = ImagingParams::defaults(3.0);
    params.sirt_iterations = 20;
    let mut chain =
        ImagingChain::new(backend, &params, &AnalysisRegion::new(&nc1.mask).unwrap()).unwrap();
    let mut state = Trajectory::new(backend, &nc1.composition, &nc1.mask, BETA_DEFAULT).unwrap();
    let initial = chain.image(&state, noise, false).unwrap().spread();
    state.advance_to(40.0).unwrap();
    let partial = chain.image(&state, noise, false).unwrap().spread();
    let uniform = Trajectory::new(backend, &alloyed(&nc1), &nc1.mask, BETA_DEFAULT).unwrap();
    let full = chain.image(&uniform, noise, false).unwrap().spread();
    [
        initial,
        partial,
        full,
        alloying_degree(partial, initial, full),
    ]
}

#[test]
fn gpu_matches_cpu_for_the_whole_chain() {
    let Some(gpu) = common::gpu() else { return };
    let gpu = Backend::Gpu(Box::new(gpu));
    for noise in [
        Noise::Smooth { dose: 50.0 },
        Noise::Poisson {
            dose: 50.0,
            seed: 3,
        },
    ] {
        let cpu = alloying_through_chain(&Backend::Cpu, noise);
        let on_gpu = alloying_through_chain(&gpu, noise);
        eprintln!("{noise:?}: cpu {cpu:?} gpu {on_gpu:?}");
        // f32 sums in another order (FMA, workgroup reductions) move the spreads by ~1e-6; α
        // divides by S(0) − S_100 ≈ 0.2, so 1e-3 leaves a wide margin for Poisson draws that flip
        // where a projection value differs in its last bit.
        assert!(
            (cpu[3] - on_gpu[3]).abs() < 1e-3,
            "{noise:?}: α cpu {} gpu {}",
            cpu[3],
            on_gpu[3]
        );
        assert!(
            cpu[3] > 0.2 && cpu[3] < 0.95,
            "α {} should be partial",
            cpu[3]
        );
    }
}

#[test]
fn noise_is_reproducible_from_its_seed() {
    let nc1 = phantom("NC1", 3.0);
    let mut params = ImagingParams::defaults(3.0);
    params.sirt_iterations = 5;
    let mut chain = ImagingChain::new(
        &Backend::Cpu,
        &params,
        &AnalysisRegion::new(&nc1.mask).unwrap(),
    )
    .unwrap();
    let state = Trajectory::new(&Backend::Cpu, &nc1.composition, &nc1.mask, BETA_DEFAULT).unwrap();
    let mut reconstruct = |noise| {
        chain
            .image(&state, noise, true)
            .unwrap()
            .reconstruction
            .unwrap()
    };
    let poisson = |seed| Noise::Poisson { dose: 20.0, seed };
    let first = reconstruct(poisson(7));
    assert_eq!(first.data(), reconstruct(poisson(7)).data(), "same seed");
    assert_ne!(first.data(), reconstruct(poisson(8)).data(), "another seed");
    let smooth = reconstruct(Noise::Smooth { dose: 20.0 });
    assert_eq!(
        smooth.data(),
        reconstruct(Noise::Smooth { dose: 20.0 }).data()
    );
    assert_ne!(smooth.data(), reconstruct(Noise::None).data());
}

/// `volume` with `before` and `after` empty slices added along the tilt axis.
fn padded<T: Clone + Default>(volume: &Array3<T>, before: usize, after: usize) -> Array3<T> {
    let [n_k, n_i, n_j] = [volume.shape()[0], volume.shape()[1], volume.shape()[2]];
    let mut padded = Array3::from_elem([before + n_k + after, n_i, n_j], T::default());
    padded
        .slice_mut(s![before..before + n_k, .., ..])
        .assign(volume);
    padded
}

/// The chain runs on the slices the state reaches (and the blur and the analysis mask): the slices
/// it leaves out hold no intensity, and their projections are zero, so leaving them out changes no
/// value of the reconstruction, with or without noise (the smooth noise's fixed field is cut from
/// the whole grid's; Poisson draws are per angle, and a zero projection draws none). Against a chain
/// whose analysis mask reaches the first and the last slice, and so runs on all of them.
#[test]
fn slices_the_particle_does_not_reach_change_nothing() {
    let nc1 = phantom("NC1", 3.0);
    let mut params = ImagingParams::defaults(3.0);
    params.sirt_iterations = 8;
    let (before, after) = (6, 9);
    let composition = Volume::new(padded(nc1.composition.data(), before, after), 3.0).unwrap();
    let mask = Mask::new(padded(nc1.mask.data(), before, after), 3.0).unwrap();
    let [n_k, n_i, n_j] = mask.shape();
    let mut reaching = mask.data().clone();
    reaching[[0, n_i / 2, n_j / 2]] = true;
    reaching[[n_k - 1, n_i / 2, n_j / 2]] = true;
    let reaching = Mask::new(reaching, 3.0).unwrap();
    let state = Trajectory::new(&Backend::Cpu, &composition, &mask, BETA_DEFAULT).unwrap();
    let reconstruct = |region: &Mask, noise| {
        let mut chain = ImagingChain::new(
            &Backend::Cpu,
            &params,
            &AnalysisRegion::new(region).unwrap(),
        )
        .unwrap();
        chain
            .image(&state, noise, true)
            .unwrap()
            .reconstruction
            .unwrap()
    };
    for noise in [
        Noise::None,
        Noise::Smooth { dose: 20.0 },
        Noise::Poisson {
            dose: 20.0,
            seed: 3,
        },
    ] {
        let on_the_particle = reconstruct(&mask, noise);
        let on_every_slice = reconstruct(&reaching, noise);
        assert!(on_every_slice.data().iter().any(|&v| v > 0.0));
        assert_eq!(on_the_particle.data(), on_every_slice.data(), "{noise:?}");
        let empty = |range| {
            on_every_slice
                .data()
                .slice(s![range, .., ..])
                .iter()
                .all(|&v| v == 0.0)
        };
        assert!(
            empty(0..1) && empty(n_k - 1..n_k),
            "{noise:?}: the end slices hold no particle"
        );
    }
}

/// Slice `wanted` of a diffused NC1 at 3 nm reconstructed alone and by the whole chain, with the
/// smooth noise. The state's crop starts slices before the lone slice's slab, which the intensity
/// kernel takes as a wrapped offset.
fn lone_and_whole_slice(backend: &Backend, wanted: usize) -> (Volume, Volume) {
    let nc1 = phantom("NC1", 3.0);
    let mut params = ImagingParams::defaults(3.0);
    params.sirt_iterations = 8;
    let mut state = Trajectory::new(backend, &nc1.composition, &nc1.mask, BETA_DEFAULT).unwrap();
    state.advance_to(40.0).unwrap();
    let region = AnalysisRegion::new(&nc1.mask).unwrap();
    let noise = Noise::Smooth { dose: 20.0 };
    let whole = ImagingChain::new(backend, &params, &region)
        .unwrap()
        .image(&state, noise, true)
        .unwrap()
        .reconstruction
        .unwrap();
    let lone = ImagingChain::new(backend, &params, &region)
        .unwrap()
        .reconstruct_slices(&state, noise, wanted..wanted + 1)
        .unwrap();
    (lone, whole)
}

/// A slice reconstructed alone (slices.png's) is the whole chain's, bit for bit: the slices are
/// independent problems, and the blur reaches none beyond the slab imaged.
fn assert_lone_slice_is_the_chains(backend: &Backend) {
    let nc1 = phantom("NC1", 3.0);
    let wanted = nc1.mask.shape()[0] / 2;
    let first_slice = nc1
        .mask
        .data()
        .outer_iter()
        .position(|slice| slice.iter().any(|&inside| inside))
        .unwrap();
    let reach = gaussian_taps(1.0).len() / 2;
    assert!(
        first_slice + reach < wanted,
        "the crop should start before the slab"
    );
    let (lone, whole) = lone_and_whole_slice(backend, wanted);
    let slice = |volume: &Volume, k: usize| volume.data().slice(s![k, .., ..]).to_owned();
    assert!(slice(&whole, wanted).iter().any(|&v| v > 0.0));
    assert_eq!(slice(&lone, wanted), slice(&whole, wanted));
    let elsewhere_zero = lone
        .data()
        .outer_iter()
        .enumerate()
        .all(|(k, slice)| k == wanted || slice.iter().all(|&v| v == 0.0));
    assert!(elsewhere_zero, "only the wanted slice is returned");
}

#[test]
fn a_slice_reconstructed_alone_is_the_chains_slice() {
    assert_lone_slice_is_the_chains(&Backend::Cpu);
}

#[test]
fn a_slice_reconstructed_alone_is_the_chains_slice_on_the_gpu() {
    let Some(gpu) = common::gpu() else { return };
    assert_lone_slice_is_the_chains(&Backend::Gpu(Box::new(gpu)));
}

#[test]
fn a_slice_alone_refuses_poisson_noise_and_slices_off_the_grid() {
    let nc1 = phantom("NC1", 3.0);
    let params = ImagingParams::defaults(3.0);
    let state = Trajectory::new(&Backend::Cpu, &nc1.composition, &nc1.mask, BETA_DEFAULT).unwrap();
    let mut chain = ImagingChain::new(
        &Backend::Cpu,
        &params,
        &AnalysisRegion::new(&nc1.mask).unwrap(),
    )
    .unwrap();
    let poisson = Noise::Poisson {
        dose: 20.0,
        seed: 3,
    };
    let error = chain.reconstruct_slices(&state, poisson, 8..9).unwrap_err();
    assert!(format!("{error:#}").contains("Poisson"), "{error:#}");
    let n_k = nc1.mask.shape()[0];
    let error = chain
        .reconstruct_slices(&state, Noise::None, n_k..n_k + 1)
        .unwrap_err();
    assert!(format!("{error:#}").contains("not within"), "{error:#}");
}

/// Voxels whose phase differs between two two-phase states.
fn voxels_apart(a: &Volume, b: &Volume) -> usize {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .filter(|(x, y)| x != y)
        .count()
}

/// NR4's bipyramid core, imaged without noise: the brightest voxels of its reconstruction miss the
/// tips and round the waist, and the matched start takes back most of what they miss, measured
/// against the core that made the data (not against the chain's own idea of it).
#[test]
fn the_matched_start_finds_more_of_the_core_than_the_brightest_voxels() {
    let backend = Backend::Cpu;
    let nr4 = phantom("NR4", 1.0);
    let mean_au = backend
        .masked_moments(&nr4.composition, &nr4.mask)
        .unwrap()
        .mean();
    let truth = two_phase(&nr4.composition, &nr4.mask, mean_au).unwrap();
    let mut params = ImagingParams::defaults(1.0);
    params.sirt_iterations = 20;
    let mut chain =
        ImagingChain::new(&backend, &params, &AnalysisRegion::new(&nr4.mask).unwrap()).unwrap();
    let state = Trajectory::new(&backend, &truth, &nr4.mask, BETA_DEFAULT).unwrap();
    let measured = chain
        .image(&state, Noise::None, true)
        .unwrap()
        .reconstruction
        .unwrap();
    let brightest = two_phase(
        &composition_map(&measured, &nr4.mask, 0.0, mean_au, params.contrast_ratio).unwrap(),
        &nr4.mask,
        mean_au,
    )
    .unwrap();
    let input = MatchInput {
        reconstruction: &measured,
        background: 0.0,
        mean_au_fraction: mean_au,
        contrast_ratio: params.contrast_ratio,
        beta: BETA_DEFAULT,
    };
    let matched =
        matched_start(&backend, &mut chain, &input, &nr4.mask, None, &mut Silent).unwrap();
    let off_brightest = voxels_apart(&brightest, &truth);
    let off_matched = voxels_apart(&matched.composition, &truth);
    println!("voxels off the true core: brightest {off_brightest}, matched {off_matched}");
    assert!(
        off_matched * 10 < off_brightest * 7,
        "{off_matched} against {off_brightest}"
    );
    let steps = &matched.correction.steps;
    assert_eq!(steps.len(), MATCH_STEPS);
    assert!(steps[1].residual_rms < steps[0].residual_rms, "{steps:?}");
    let taken_over = matched_start(
        &backend,
        &mut chain,
        &input,
        &nr4.mask,
        Some(&matched.correction),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(
        voxels_apart(&taken_over.composition, &matched.composition),
        0
    );
}
