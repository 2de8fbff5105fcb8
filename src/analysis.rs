//! An experiment, quantified and made ready to simulate (docs/METHOD.md §4.4–4.5): each
//! reconstruction segmented and measured, the initial composition and mask the simulation starts
//! from, the imaging chain prepared on that mask, the dose calibrated, and the measured alloying
//! curve, corrected and uncorrected. What is measured is plain data ([`Quantified`]); what
//! simulates it holds the start state and the chain on a backend ([`Simulator`]). The
//! reconstructions are read once ([`SegmentedReconstructions`]) and lent to every preparation.
//! `quantify` reports this; `fit` builds on it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::diffusion::{Trajectory, prepare_mask};
use crate::experiment::{
    Correction, DoseSetting, InitialState, LoadedExperiment, MeasuredFiles, NamedDose, read_curve,
};
use crate::imaging::dose::{DoseCalibration, calibrate_dose};
use crate::imaging::quantify::{
    Measured, Segmentation, analysis_mask, composition_map, measure, segment, two_phase,
};
use crate::imaging::start_state::{MatchCorrection, MatchInput, MatchStep, matched_start};
use crate::imaging::{AnalysisRegion, ImagingChain, ImagingParams, Noise, alloying_degree};
use crate::io::{mask_from_volume, read_volume};
use crate::phantom::{PhantomOptions, find_particle, voxelize};
use crate::progress::Progress;
use crate::start_mask::{StartShape, start_mask};
use crate::tomography::sirt::{self, SirtOptions};
use crate::volume::{Mask, Volume, check_same_grid};

/// Relative tolerance between a file's voxel size and the experiment's.
const VOXEL_SIZE_REL_TOL: f64 = 1e-3;

/// The measured alloying curve and what it was measured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Quantification {
    pub times_s: Vec<f64>,
    /// Per reconstruction (absent for a measured curve).
    pub measured: Option<Vec<Measured>>,
    pub alpha_corrected: Option<Vec<f64>>,
    pub alpha_uncorrected: Option<Vec<f64>>,
    /// The curve the fit uses (the experiment's `fit.correction`).
    pub alpha: Vec<f64>,
    pub correction: Correction,
    /// CV on the noise slice of the last reconstruction.
    pub noise_cv: Option<f64>,
    pub dose_calibration: Option<DoseCalibration>,
    /// The dose of the simulated acquisition (None: no noise).
    pub dose: Option<f64>,
    /// Simulated spreads of the initial and the fully alloyed state through the chain.
    pub simulated_spread_initial: f64,
    pub simulated_spread_alloyed: f64,
    /// Voxels of the simulation's mask, and those dropped from it (outside its largest component).
    pub simulation_voxels: usize,
    pub dropped_voxels: usize,
    /// Voxels of the analysis mask every spread is measured in (the simulation's, eroded by
    /// `data.erosion_voxels`).
    pub analysis_voxels: usize,
    /// The simulation mask's volume.
    pub volume_nm3: f64,
    /// Longest over shortest side of the box around the simulation mask along the volume axes (rods
    /// lie along the tilt axis, docs/METHOD.md §5; a particle lying across the axes reads lower).
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub aspect_ratio: f64,
    /// How the t = 0 reconstruction became the start state (absent for a measured curve, which
    /// starts from a phantom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_state: Option<StartStateReport>,
}

/// The state a simulation starts from.
pub struct SimulationStart {
    pub composition: Volume,
    pub mask: Mask,
    /// The mean composition everywhere inside the mask: the fully alloyed state.
    pub alloyed: Volume,
    /// What the matched start added to the measured composition, for another mask of the same
    /// reconstruction.
    pub match_correction: Option<MatchCorrection>,
}

/// What a start mask of a level search takes over from an earlier mask of the same experiment
/// instead of measuring it again.
#[derive(Clone, Copy)]
pub struct TakenOver<'e> {
    /// Its noise CV and dose. The dose belongs to the acquisition, not to the mask: recalibrated
    /// on each mask of the level search, its target CV moved by 0.2% (0.0539–0.0540, NC1 at 2 nm),
    /// and each calibration cost three or four chain runs.
    pub quantification: &'e Quantification,
    /// Its matched start's correction, which belongs to the t = 0 reconstruction: masks a surface
    /// layer apart share the core it sharpens, and each would cost
    /// [`crate::imaging::start_state::MATCH_STEPS`] chain runs.
    pub match_correction: Option<&'e MatchCorrection>,
}

/// How the start state was made, for the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartStateReport {
    pub rule: InitialState,
    /// The matched rule's steps (on the level search's first mask, whose correction the others
    /// take over).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_steps: Vec<MatchStep>,
}

/// A quantified experiment: the measured curve and the imaging it is simulated with.
#[derive(Debug, Clone)]
pub struct Quantified {
    pub quantification: Quantification,
    pub imaging: ImagingParams,
}

/// What simulates an experiment on a backend: the start state, and the imaging chain prepared for
/// its mask with the noise that matches the measurement.
pub struct Simulator<'a> {
    pub start: SimulationStart,
    pub chain: ImagingChain<'a>,
    pub noise: Noise,
}

fn read_reconstruction(path: &std::path::Path, voxel_nm: f64) -> Result<Volume> {
    let file = read_volume(path)?;
    check_stored_voxel_size(path, file.voxel_nm, voxel_nm)?;
    file.into_volume(path, Some(voxel_nm))
}

fn check_stored_voxel_size(
    path: &std::path::Path,
    stored: Option<f64>,
    voxel_nm: f64,
) -> Result<()> {
    if let Some(stored) = stored {
        ensure!(
            (stored - voxel_nm).abs() <= VOXEL_SIZE_REL_TOL * voxel_nm,
            "{}: the file's voxel size is {stored} nm but particle.voxel_nm says {voxel_nm} nm; fix one of them",
            path.display()
        );
    }
    Ok(())
}

fn read_mask_file(path: &std::path::Path, voxel_nm: f64) -> Result<Mask> {
    mask_from_volume(&read_reconstruction(path, voxel_nm)?, path)
}

/// `value` everywhere inside `mask`, 0 outside: a fully alloyed particle.
pub fn uniform_in(mask: &Mask, value: f64) -> Result<Volume> {
    let data = mask
        .data()
        .mapv(|inside| if inside { value as f32 } else { 0.0 });
    Ok(Volume::new(data, mask.voxel_nm())?)
}

/// An experiment's reconstructions, read and segmented (both empty for a measured curve).
#[derive(Debug, Clone, Default)]
pub struct SegmentedReconstructions {
    pub reconstructions: Vec<Volume>,
    pub segmentations: Vec<Segmentation>,
}

/// Reads and segments `loaded`'s reconstructions, or reconstructs its tilt series on `backend`
/// and segments those, one progress step per file.
pub fn read_and_segment(
    backend: &Backend,
    loaded: &LoadedExperiment,
    progress: &mut dyn Progress,
) -> Result<SegmentedReconstructions> {
    let Some((measured, files)) = loaded.experiment.data.measured_files() else {
        return Ok(SegmentedReconstructions::default());
    };
    let series = measured == MeasuredFiles::TiltSeries;
    let imaging = loaded.experiment.imaging_params(&loaded.dir)?;
    let voxel_nm = loaded.experiment.particle.voxel_nm;
    let mut segmented = SegmentedReconstructions::default();
    let mut paths = Vec::with_capacity(files.len());
    let (what, stage) = if series {
        ("reconstructing and segmenting", "tilt series")
    } else {
        ("segmenting", "reconstructions")
    };
    progress.line(&format!("{what} {} {stage}", files.len()));
    for (n, file) in files.iter().enumerate() {
        let path = loaded.resolve(file);
        let volume = if series {
            reconstruct_series_file(backend, &imaging, &path, voxel_nm)?
        } else {
            read_reconstruction(&path, voxel_nm)?
        };
        if let Some(first) = segmented.reconstructions.first() {
            check_same_grid("reconstructions", Volume::grid(first), volume.grid())
                .with_context(|| format!("{}", path.display()))?;
        }
        let segmentation = segment(&volume).with_context(|| format!("{}", path.display()))?;
        segmented.segmentations.push(segmentation);
        segmented.reconstructions.push(volume);
        paths.push(path);
        progress.step(what, n + 1, files.len())?;
    }
    check_segmentations_agree(&segmented.segmentations, &paths)?;
    Ok(segmented)
}

/// The most the segmented particle's volume may change from one time to another. Heating keeps the
/// particle's volume; the cut moves with the contrast, by 4–7% on well-resolved particles (the
/// ASTRA-made cube in its tight box, NC1 in a 23-voxel box) and by up to 1.57 times on NC2 at 4 nm
/// after 5 SIRT iterations (the Slurm test's tiny experiments), while a failed segmentation takes
/// the core alone for the particle at some times (3.8 to 4.4 times fewer voxels).
const MAX_SEGMENTED_VOLUME_RATIO: f64 = 2.0;

/// Refuses segmentations that found different particles at different times: their spreads would
/// compare a core with a whole particle (NC1 in boxes that left under one voxel, at 3 nm, or two, at
/// 2 nm, between the particle and the box's sides fitted 7 to 100 times off). In a tight box the
/// background band is missing and Otsu's first cut can take the core for the particle before
/// heating, so the message says when a mask reaches the box's side.
fn check_segmentations_agree(segmentations: &[Segmentation], paths: &[PathBuf]) -> Result<()> {
    let counts: Vec<usize> = segmentations.iter().map(|s| s.mask.count()).collect();
    let (Some(smallest), Some(largest)) = (
        (0..counts.len()).min_by_key(|&n| counts[n]),
        (0..counts.len()).max_by_key(|&n| counts[n]),
    ) else {
        return Ok(());
    };
    if (counts[largest] as f64) <= MAX_SEGMENTED_VOLUME_RATIO * counts[smallest] as f64 {
        return Ok(());
    }
    let on_a_side = segmentations
        .iter()
        .zip(paths)
        .find_map(|(s, path)| side_reached(&s.mask).map(|side| (side, path)));
    let advice = match on_a_side {
        Some(((axis, index), path)) => format!(
            "The particle in {} reaches the side of its box ({axis} = {index}): a box that cuts \
             the particle or its blurred edge leaves too little vacuum around it to measure the \
             background, and the first cut takes the core for the particle. Reconstruct on a \
             larger box, with a few voxels of vacuum around the particle on every side",
            path.display()
        ),
        None => "Check the masks `alloyfit quantify` writes, and give the particle's mask as \
                 data.mask if the segmentation cannot find it"
            .to_owned(),
    };
    bail!(
        "the segmented particle holds {} voxels in {} but {} in {}: the segmentation found \
         different particles at different times (a particle keeps its volume when heated). {advice}",
        counts[smallest],
        paths[smallest].display(),
        counts[largest],
        paths[largest].display()
    )
}

/// The first side of its box (axis name, index) that `mask` reaches, if any.
fn side_reached(mask: &Mask) -> Option<(&'static str, usize)> {
    let shape = mask.shape();
    mask.data()
        .indexed_iter()
        .filter(|(_, inside)| **inside)
        .find_map(|((k, i, j), _)| {
            [("k", k), ("i", i), ("j", j)]
                .into_iter()
                .zip(shape)
                .find(|&((_, index), n)| index == 0 || index + 1 == n)
                .map(|(side, _)| side)
        })
}

/// Reconstructs the tilt series in `path` as the simulation reconstructs its own series: SIRT with
/// `imaging`'s iterations, non-negative, from zero, on square slices as wide as the detector, so
/// that the measured and the simulated reconstructions come from one algorithm.
fn reconstruct_series_file(
    backend: &Backend,
    imaging: &ImagingParams,
    path: &std::path::Path,
    voxel_nm: f64,
) -> Result<Volume> {
    let file = read_volume(path)?;
    check_stored_voxel_size(path, file.voxel_nm, voxel_nm)?;
    let series = file.data;
    if let Some(pixels) = imaging.detector_pixels {
        let n_det = series.shape()[2];
        ensure!(
            pixels == n_det,
            "{}: the series is {n_det} pixels wide but imaging.detector_pixels says {pixels}; leave \
             detector_pixels out, a tilt series gives its own",
            path.display()
        );
    }
    let options = SirtOptions {
        iterations: imaging.sirt_iterations,
        ..SirtOptions::default()
    };
    let reconstruction = sirt::reconstruct_series(
        backend,
        &series,
        &imaging.tilt_angles_deg,
        voxel_nm,
        &options,
        &mut |_| Ok(()),
    )
    .with_context(|| format!("{} (a tilt series at imaging.tilts)", path.display()))?;
    Ok(reconstruction.volume)
}

/// Reads and quantifies `loaded` on `backend` with the start mask its file asks for, reporting
/// each stage to `progress`.
pub fn prepare_experiment<'a>(
    backend: &'a Backend,
    loaded: &LoadedExperiment,
    progress: &mut dyn Progress,
) -> Result<(SegmentedReconstructions, Quantified, Simulator<'a>)> {
    let segmented = read_and_segment(backend, loaded, progress)?;
    let shape = StartShape::of(&loaded.experiment.data);
    let (quantified, simulator) =
        prepare_segmented(backend, loaded, &segmented, &shape, None, progress)?;
    Ok((segmented, quantified, simulator))
}

/// Quantifies `loaded` with the start mask of `shape`, on reconstructions that
/// [`read_and_segment`] already read from it, so that every start mask tried reads them once.
///
/// `earlier`: what an earlier start mask of the same experiment leaves to this one (see
/// [`TakenOver`]).
pub fn prepare_segmented<'a>(
    backend: &'a Backend,
    loaded: &LoadedExperiment,
    segmented: &SegmentedReconstructions,
    shape: &StartShape,
    earlier: Option<TakenOver>,
    progress: &mut dyn Progress,
) -> Result<(Quantified, Simulator<'a>)> {
    let e = &loaded.experiment;
    let voxel_nm = e.particle.voxel_nm;
    let imaging = e.imaging_params(&loaded.dir)?;
    let SegmentedReconstructions {
        reconstructions,
        segmentations,
    } = segmented;
    let (initial_composition, initial_mask, measured_alpha) =
        match (e.data.measured_files(), &e.data.curve) {
            (Some((measured, files)), _) => {
                ensure!(
                    reconstructions.len() == files.len(),
                    "{} reconstructions segmented for the {} files of {}",
                    reconstructions.len(),
                    files.len(),
                    measured.key()
                );
                let mask = match &e.data.mask {
                    Some(file) => read_mask_file(&loaded.resolve(file), voxel_nm)?,
                    None => start_mask(&reconstructions[0], &segmentations[0], shape)
                        .with_context(|| {
                            format!(
                                "{} ({})",
                                loaded.resolve(&files[0]).display(),
                                shape.describe()
                            )
                        })?,
                };
                let map = composition_map(
                    &reconstructions[0],
                    &mask,
                    segmentations[0].background,
                    e.particle.mean_au_fraction,
                    imaging.contrast_ratio,
                )?;
                // The matched rule starts from the two-phase state and replaces it once the
                // chain it is matched through is prepared.
                let composition = match e.data.initial_state {
                    InitialState::Matched | InitialState::TwoPhase => {
                        two_phase(&map, &mask, e.particle.mean_au_fraction)?
                    }
                    InitialState::Map => map,
                };
                (composition, mask, None)
            }
            (None, Some(file)) => {
                let path = loaded.resolve(file);
                let curve = read_curve(&path)?;
                ensure!(
                    curve.len() == e.data.times_s.len()
                        && curve
                            .iter()
                            .zip(&e.data.times_s)
                            .all(|((t, _), want)| (t - want).abs() <= 1e-9 * want.max(1.0)),
                    "{}: the curve's times must be data.times_s ({:?})",
                    path.display(),
                    e.data.times_s
                );
                let phantom = voxelize(
                    &find_particle(&e.particle.name).with_context(|| {
                        format!(
                            "a measured curve needs a phantom to start from: particle.name '{}'",
                            e.particle.name
                        )
                    })?,
                    &PhantomOptions {
                        voxel_nm,
                        ..PhantomOptions::default()
                    },
                )?;
                let alpha: Vec<f64> = curve.iter().map(|&(_, a)| a).collect();
                (phantom.composition, phantom.mask, Some(alpha))
            }
            (None, None) => bail!("data: neither reconstructions nor curve"),
        };
    let reshaped = match &e.data.reshaped_mask {
        Some(file) => Some(read_mask_file(&loaded.resolve(file), voxel_nm)?),
        None => None,
    };
    let mut prepared = prepare_mask(&initial_composition, &initial_mask, reshaped.as_ref())?;
    let analysis = analysis_mask(&prepared.mask, e.data.erosion_voxels)?;
    let region = AnalysisRegion::new(&analysis)?;
    let measured = reconstructions
        .iter()
        .zip(segmentations)
        .zip(
            e.data
                .measured_files()
                .into_iter()
                .flat_map(|(_, files)| files),
        )
        .map(|((volume, segmentation), file)| {
            measure(volume, segmentation, &region)
                .with_context(|| format!("{}", loaded.resolve(file).display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let alloyed = uniform_in(&prepared.mask, e.particle.mean_au_fraction)?;
    progress.line(&format!(
        "preparing the imaging chain on {} ({} voxels in the mask)",
        backend.describe(),
        prepared.mask.count()
    ));
    let mut chain = ImagingChain::new(backend, &imaging, &region)?;
    chain.check_detector_holds(&prepared.mask)?;
    // A measured curve starts from a phantom; reconstructions start by the experiment's rule,
    // except that a reshaped mask is not the particle the t = 0 reconstruction shows.
    let start_rule = e.data.measured_files().map(|_| match e.data.initial_state {
        InitialState::Matched if reshaped.is_some() => {
            progress.line(
                "the start state is two-phase: a reshaped mask is not the particle the t = 0 \
                 reconstruction shows, so it cannot be matched to it",
            );
            InitialState::TwoPhase
        }
        rule => rule,
    });
    let match_correction = match start_rule {
        Some(InitialState::Matched) => {
            let matched = matched_start(
                backend,
                &mut chain,
                &MatchInput {
                    reconstruction: &reconstructions[0],
                    background: segmentations[0].background,
                    mean_au_fraction: e.particle.mean_au_fraction,
                    contrast_ratio: imaging.contrast_ratio,
                    beta: e.fit.beta,
                },
                &prepared.mask,
                earlier.and_then(|earlier| earlier.match_correction),
                progress,
            )?;
            prepared.composition = matched.composition;
            Some(matched.correction)
        }
        _ => None,
    };
    let start_state = start_rule.map(|rule| StartStateReport {
        rule,
        match_steps: match_correction
            .as_ref()
            .map_or_else(Vec::new, |correction| correction.steps.clone()),
    });
    let alloyed_state = Trajectory::new(backend, &alloyed, &prepared.mask, e.fit.beta)?;
    let (noise_cv, dose, dose_calibration) = match earlier {
        Some(TakenOver {
            quantification: earlier,
            ..
        }) => (
            earlier.noise_cv,
            earlier.dose,
            earlier.dose_calibration.clone(),
        ),
        None => {
            let noise_cv = measure_noise(loaded, &region, &measured, progress)?;
            let (dose, calibration) =
                calibrate(loaded, &mut chain, &alloyed_state, noise_cv, progress)?;
            (noise_cv, dose, calibration)
        }
    };
    let noise = match dose {
        Some(dose) => Noise::Smooth { dose },
        None => Noise::None,
    };
    progress.line("imaging the initial and the fully alloyed state");
    let simulated_spread_alloyed = chain.image(&alloyed_state, noise, false)?.spread();
    let initial_state =
        Trajectory::new(backend, &prepared.composition, &prepared.mask, e.fit.beta)?;
    let simulated_spread_initial = chain.image(&initial_state, noise, false)?.spread();

    let (alpha_corrected, alpha_uncorrected, alpha) = match measured_alpha {
        Some(alpha) => (None, None, alpha),
        None => {
            let s0 = measured[0].spread;
            let s_last = measured.last().expect("at least 3 times").spread;
            let corrected: Vec<f64> = measured
                .iter()
                .map(|m| alloying_degree(m.spread, s0, simulated_spread_alloyed))
                .collect();
            let uncorrected: Vec<f64> = measured
                .iter()
                .map(|m| alloying_degree(m.spread, s0, s_last))
                .collect();
            let chosen = match e.fit.correction {
                Correction::Corrected => corrected.clone(),
                Correction::Uncorrected => uncorrected.clone(),
            };
            (Some(corrected), Some(uncorrected), chosen)
        }
    };
    let quantification = Quantification {
        times_s: e.data.times_s.clone(),
        measured: (!measured.is_empty()).then_some(measured),
        alpha_corrected,
        alpha_uncorrected,
        alpha,
        correction: e.fit.correction,
        noise_cv,
        dose_calibration,
        dose,
        simulated_spread_initial,
        simulated_spread_alloyed,
        simulation_voxels: prepared.mask.count(),
        dropped_voxels: prepared.dropped_voxels,
        analysis_voxels: analysis.count(),
        volume_nm3: prepared.mask.count() as f64 * voxel_nm.powi(3),
        aspect_ratio: prepared.mask.extent_voxels().map_or(f64::NAN, |extent| {
            let longest = extent.iter().max().copied().unwrap_or(1);
            let shortest = extent.iter().min().copied().unwrap_or(1);
            longest as f64 / shortest as f64
        }),
        start_state,
    };
    let quantified = Quantified {
        quantification,
        imaging,
    };
    let simulator = Simulator {
        start: SimulationStart {
            composition: prepared.composition,
            mask: prepared.mask,
            alloyed,
            match_correction,
        },
        chain,
        noise,
    };
    Ok((quantified, simulator))
}

/// The noise CV the dose is calibrated to: on `data.noise_reconstruction` where given, else on the
/// last reconstruction; None for a measured curve.
fn measure_noise(
    loaded: &LoadedExperiment,
    region: &AnalysisRegion,
    measured: &[Measured],
    progress: &mut dyn Progress,
) -> Result<Option<f64>> {
    let Some(file) = &loaded.experiment.data.noise_reconstruction else {
        return Ok(measured.last().map(|m| m.slice_spread));
    };
    let path = loaded.resolve(file);
    progress.line(&format!("measuring the noise on {}", path.display()));
    let volume = read_reconstruction(&path, loaded.experiment.particle.voxel_nm)?;
    let segmentation = segment(&volume).with_context(|| format!("{}", path.display()))?;
    let measured =
        measure(&volume, &segmentation, region).with_context(|| format!("{}", path.display()))?;
    Ok(Some(measured.slice_spread))
}

/// The dose of the simulated acquisition (None: no noise) and, for `imaging.dose = "auto"`, its
/// calibration to `noise_cv` on the fully alloyed state.
fn calibrate(
    loaded: &LoadedExperiment,
    chain: &mut ImagingChain,
    alloyed_state: &Trajectory,
    noise_cv: Option<f64>,
    progress: &mut dyn Progress,
) -> Result<(Option<f64>, Option<DoseCalibration>)> {
    Ok(match loaded.experiment.imaging.dose {
        DoseSetting::Fixed(dose) => (Some(dose), None),
        DoseSetting::Named(NamedDose::None) => (None, None),
        DoseSetting::Named(NamedDose::Auto) => {
            let target = noise_cv.context("imaging.dose = \"auto\" needs reconstructions")?;
            progress.line(&format!(
                "calibrating the dose to the measured noise (CV {target:.4} on the central slice)"
            ));
            let calibration = calibrate_dose(chain, alloyed_state, target)?;
            if calibration.dose.is_none() {
                progress.line(&format!(
                    "the measured noise CV {target:.4} is not above the noise-free simulation's {:.4}: simulating without noise",
                    calibration.clean_cv
                ));
            }
            (calibration.dose, Some(calibration))
        }
    })
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, s};

    use super::*;

    /// A 6 x 10 x 10 segmentation with the particle in `k`, `i` and `j`.
    fn particle_in(
        k: std::ops::Range<usize>,
        i: std::ops::Range<usize>,
        j: std::ops::Range<usize>,
    ) -> Segmentation {
        let mut inside = Array3::from_elem((6, 10, 10), false);
        inside.slice_mut(s![k, i, j]).fill(true);
        Segmentation {
            mask: Mask::new(inside, 1.0).unwrap(),
            background: 0.0,
            threshold: 0.5,
            filled_voxels: 0,
            dropped_voxels: 0,
        }
    }

    fn paths(n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|t| PathBuf::from(format!("recon_{t}.tif")))
            .collect()
    }

    #[test]
    fn segmentations_of_one_particle_agree() {
        // 4 x 6 x 6 = 144 voxels, then 4 x 7 x 6 = 168: within twice, even on the box's side.
        let segmentations = [particle_in(1..5, 2..8, 2..8), particle_in(1..5, 0..7, 2..8)];
        check_segmentations_agree(&segmentations, &paths(2)).unwrap();
        check_segmentations_agree(&[], &[]).unwrap();
    }

    #[test]
    fn a_core_taken_for_the_particle_is_refused_with_the_side_it_reaches() {
        // 2 x 2 x 2 = 8 voxels (a core), then 4 x 8 x 10 = 320 that reach j = 0 and j = 9.
        let segmentations = [
            particle_in(2..4, 4..6, 4..6),
            particle_in(1..5, 1..9, 0..10),
        ];
        let message = format!(
            "{:#}",
            check_segmentations_agree(&segmentations, &paths(2)).unwrap_err()
        );
        assert!(
            message.contains("holds 8 voxels in recon_0.tif but 320 in recon_1.tif"),
            "{message}"
        );
        assert!(
            message.contains("The particle in recon_1.tif reaches the side of its box (j = 0)"),
            "{message}"
        );
        let clear = [particle_in(2..4, 4..6, 4..6), particle_in(1..5, 2..8, 2..8)];
        let message = format!(
            "{:#}",
            check_segmentations_agree(&clear, &paths(2)).unwrap_err()
        );
        assert!(message.contains("data.mask"), "{message}");
    }
}
