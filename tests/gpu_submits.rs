//! The GPU's queue submits, counted on a real adapter (lavapipe in CI): a submit costs a driver
//! round trip and a sync point, so long runs must go to the device in few of them. One imaging of
//! the chain (intensity, blur, projection, noise, every SIRT iteration and both spreads' moments)
//! is one submit; a batch of up to 256 diffusion steps is one.

mod common;

use alloyfit::backend::Backend;
use alloyfit::diffusion::{BETA_DEFAULT, Trajectory, prepare_mask};
use alloyfit::imaging::{AnalysisRegion, ImagingChain, ImagingParams, Noise};
use alloyfit::phantom::{PhantomOptions, find_particle, voxelize};

fn submits(backend: &Backend) -> usize {
    match backend {
        Backend::Gpu(gpu) => gpu.submits(),
        Backend::Cpu => unreachable!("these tests run on the GPU"),
    }
}

#[test]
fn a_diffusion_batch_and_an_imaging_are_one_submit_each() {
    let Some(gpu) = common::gpu() else { return };
    let backend = Backend::Gpu(Box::new(gpu));
    let voxel_nm = 4.0;
    let options = PhantomOptions {
        voxel_nm,
        ..PhantomOptions::default()
    };
    let phantom = voxelize(&find_particle("NC1").unwrap(), &options).unwrap();
    let start = prepare_mask(&phantom.composition, &phantom.mask, None).unwrap();
    let mut trajectory =
        Trajectory::new(&backend, &start.composition, &start.mask, BETA_DEFAULT).unwrap();

    // 300 full steps and half a step: batches of 256 and 44, then the snapshot's partial step.
    let step_tau_nm2 = BETA_DEFAULT * voxel_nm * voxel_nm;
    let before = submits(&backend);
    trajectory.advance_to(300.5 * step_tau_nm2).unwrap();
    assert_eq!(submits(&backend) - before, 3, "300.5 diffusion steps");

    let mut params = ImagingParams::defaults(voxel_nm);
    params.sirt_iterations = 20;
    let region = AnalysisRegion::new(&start.mask).unwrap();
    let mut chain = ImagingChain::new(&backend, &params, &region).unwrap();
    // The first imaging also prepares the chain on the slices the state reaches: SIRT's weights
    // R and C, one read-back each.
    let before = submits(&backend);
    chain.image(&trajectory, Noise::None, false).unwrap();
    assert_eq!(submits(&backend) - before, 3, "the first imaging");
    for noise in [Noise::None, Noise::Smooth { dose: 50.0 }] {
        let before = submits(&backend);
        let imaged = chain.image(&trajectory, noise, false).unwrap();
        assert!(imaged.spread() > 0.0);
        assert_eq!(
            submits(&backend) - before,
            1,
            "one imaging with {noise:?} and {} SIRT iterations",
            params.sirt_iterations
        );
    }
}
