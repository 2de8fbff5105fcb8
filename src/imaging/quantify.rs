//! Quantifying a measured reconstruction (docs/METHOD.md §4.4): the background from a band around
//! the particle, the particle mask (Otsu threshold, largest 6-connected component, holes filled),
//! the analysis mask (that particle, optionally eroded), the spread inside it, and the composition
//! map that starts a simulation. These run once per file on the host, on the CPU reference kernels
//! whatever the run's device: a measured reconstruction is then quantified the same on every
//! machine. The statistics they share with the chain (blur, masked moments) go through the same
//! kernel interface.

use anyhow::{Context, Result, bail, ensure};
use ndarray::Array3;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Moments};
use crate::imaging::{AnalysisRegion, gaussian_taps};
use crate::volume::{Mask, Volume, check_same_grid, face_neighbours};

/// Histogram bins of the Otsu threshold.
const OTSU_BINS: usize = 256;
/// The background band lies between these two 6-connected dilations of a first, rough mask: far
/// enough out to miss the particle's blurred edge, close enough to see the particle's surroundings.
const BAND_INNER_VOXELS: usize = 3;
const BAND_OUTER_VOXELS: usize = 6;

/// The surface sits where the intensity has fallen to this fraction of the intensity just inside
/// it: a blurred edge crosses half height at the true surface, whereas the Otsu cut of a core-shell
/// particle lies higher and loses whole surface layers (−20% of the volume for NC1 at 2 nm).
const HALF_HEIGHT: f64 = 0.5;
/// "Just inside": this many voxels in from the surface, past the blurred edge (a blur of one voxel
/// plus SIRT's own) but within a thin shell.
const SURFACE_LAYER_DEPTH: usize = 3;
/// The half-height fixed point converges in a handful of steps; this bounds a pathological case.
const HALF_HEIGHT_ITERATIONS: usize = 50;

/// Gaussian sigma, in voxels, of the smoothing before a `smoothed` or `fitted` start mask is
/// segmented, by default (`data.start_smoothing_voxels`): it averages the noise over a voxel's
/// neighbours (NR1 at 0.5 nm, dose 10: half as many voxels off the phantom's mask;
/// tests/quantify.rs), and it rounds a cube's edges further (NC1 at 2 nm, dose 100: 23,920 voxels
/// against 24,063 segmented as measured, 24,389 in the phantom).
pub const START_MASK_SMOOTHING_VOXELS: f64 = 0.7;

/// A segmented reconstruction.
#[derive(Debug, Clone)]
pub struct Segmentation {
    pub mask: Mask,
    /// Median intensity of the band outside the particle, subtracted before any statistic.
    pub background: f64,
    /// The threshold on background-subtracted intensities: half the median of the voxels above
    /// their Otsu threshold.
    pub threshold: f64,
    /// Holes (enclosed background voxels) filled.
    pub filled_voxels: usize,
    /// Voxels outside the largest component, dropped.
    pub dropped_voxels: usize,
}

/// What one reconstruction measures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Measured {
    /// S = CV inside the analysis mask.
    pub spread: f64,
    /// CV on the analysis mask's central slice (docs/METHOD.md §4.5).
    pub slice_spread: f64,
    /// Voxels in this reconstruction's own segmentation (a change over time shows reshaping).
    pub mask_voxels: usize,
    pub background: f64,
    /// The segmentation's cut on background-subtracted intensity, the holes it filled and the
    /// voxels it dropped outside the largest component.
    pub threshold: f64,
    pub filled_voxels: usize,
    pub dropped_voxels: usize,
}

/// The Otsu threshold of `values`: the cut that maximises the between-class variance of a
/// [`OTSU_BINS`]-bin histogram.
pub fn otsu_threshold(values: &[f32]) -> Result<f64> {
    let finite = values.iter().filter(|v| v.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(f64::from(v)), hi.max(f64::from(v)))
    });
    ensure!(
        low.is_finite() && high > low,
        "the reconstruction is constant (or has no finite value): there is no particle to segment"
    );
    let width = (high - low) / OTSU_BINS as f64;
    let mut histogram = [0f64; OTSU_BINS];
    for &v in values.iter().filter(|v| v.is_finite()) {
        let bin = (((f64::from(v) - low) / width) as usize).min(OTSU_BINS - 1);
        histogram[bin] += 1.0;
    }
    let total: f64 = histogram.iter().sum();
    let total_moment: f64 = histogram
        .iter()
        .enumerate()
        .map(|(b, h)| b as f64 * h)
        .sum();
    let (mut below, mut below_moment) = (0.0, 0.0);
    let (mut best, mut best_variance) = (0, -1.0);
    for (bin, &count) in histogram.iter().enumerate() {
        below += count;
        below_moment += bin as f64 * count;
        let above = total - below;
        if below == 0.0 || above == 0.0 {
            continue;
        }
        let mean_below = below_moment / below;
        let mean_above = (total_moment - below_moment) / above;
        let variance = below * above * (mean_below - mean_above).powi(2);
        if variance > best_variance {
            best_variance = variance;
            best = bin;
        }
    }
    Ok(low + (best + 1) as f64 * width)
}

/// The fixed point of t = ½·median{v in the layer [`SURFACE_LAYER_DEPTH`] voxels inside {v > t}},
/// from the Otsu threshold: the level where the particle's blurred edge crosses half the intensity
/// just inside its surface. That intensity is the Ag shell's before heating and the alloy's after,
/// so the surface stays put while the particle alloys.
fn half_height_threshold(values: &[f32], shape: [usize; 3], otsu: f64) -> f64 {
    let mut threshold = otsu;
    for _ in 0..HALF_HEIGHT_ITERATIONS {
        let inside: Vec<bool> = values.iter().map(|&v| f64::from(v) > threshold).collect();
        let outer = erode(&inside, shape, SURFACE_LAYER_DEPTH - 1);
        let inner = erode(&outer, shape, 1);
        let layer: Vec<f32> = (0..values.len())
            .filter(|&n| outer[n] && !inner[n])
            .map(|n| values[n])
            .collect();
        let Ok(layer_median) = median(&layer) else {
            break;
        };
        let next = HALF_HEIGHT * layer_median;
        let converged = (next - threshold).abs() <= 1e-4 * threshold.abs();
        threshold = next;
        if converged {
            break;
        }
    }
    threshold
}

/// `mask` grown by `steps` 6-connected dilations.
fn dilate(mask: &[bool], shape: [usize; 3], steps: usize) -> Vec<bool> {
    let mut current = mask.to_vec();
    for _ in 0..steps {
        let mut next = current.clone();
        for (n, &inside) in current.iter().enumerate() {
            if inside {
                for m in face_neighbours(n, shape).into_iter().flatten() {
                    next[m] = true;
                }
            }
        }
        current = next;
    }
    current
}

/// `mask` with every outside region that does not reach the grid's edge filled; returns how many
/// voxels were filled.
fn fill_holes(mask: &mut [bool], shape: [usize; 3]) -> usize {
    let mut reached = vec![false; mask.len()];
    let mut stack: Vec<usize> = (0..mask.len())
        .filter(|&n| !mask[n] && face_neighbours(n, shape).iter().any(Option::is_none))
        .collect();
    for &n in &stack {
        reached[n] = true;
    }
    while let Some(n) = stack.pop() {
        for m in face_neighbours(n, shape).into_iter().flatten() {
            if !mask[m] && !reached[m] {
                reached[m] = true;
                stack.push(m);
            }
        }
    }
    let mut filled = 0;
    for (inside, reached) in mask.iter_mut().zip(reached) {
        if !*inside && !reached {
            *inside = true;
            filled += 1;
        }
    }
    filled
}

/// The mask spreads are measured in: the simulation's particle mask less its outer `erosion_voxels`
/// layers. Only the measurement is eroded; the particle still diffuses in all of `particle`, so an
/// erosion that keeps the blurred surface out of the spread does not shrink the particle.
pub fn analysis_mask(particle: &Mask, erosion_voxels: usize) -> Result<Mask> {
    let eroded = eroded_mask(particle, erosion_voxels)?;
    ensure!(
        eroded.count() > 0,
        "data.erosion_voxels = {erosion_voxels} leaves nothing of the particle to measure; use a smaller erosion"
    );
    Ok(eroded)
}

/// [`erode`] for a [`Mask`].
pub(crate) fn eroded_mask(mask: &Mask, steps: usize) -> Result<Mask> {
    let shape = mask.shape();
    let inside = mask.data().as_slice().expect("standard layout");
    Ok(Mask::new(
        Array3::from_shape_vec(shape, erode(inside, shape, steps))?,
        mask.voxel_nm(),
    )?)
}

/// `mask` shrunk by `steps` 6-connected erosions (a voxel stays if all its face neighbours are in).
fn erode(mask: &[bool], shape: [usize; 3], steps: usize) -> Vec<bool> {
    let mut current = mask.to_vec();
    for _ in 0..steps {
        current = (0..current.len())
            .map(|n| {
                current[n]
                    && face_neighbours(n, shape)
                        .iter()
                        .all(|m| m.is_some_and(|m| current[m]))
            })
            .collect();
    }
    current
}

fn median(values: &[f32]) -> Result<f64> {
    crate::stats::percentile(values, 50.0).context("no voxels to take a median of")
}

/// The median of the band [`BAND_INNER_VOXELS`]…[`BAND_OUTER_VOXELS`] dilations outside `rough`.
fn band_background(values: &[f32], shape: [usize; 3], rough: &[bool]) -> Result<f64> {
    let inner = dilate(rough, shape, BAND_INNER_VOXELS);
    let outer = dilate(&inner, shape, BAND_OUTER_VOXELS - BAND_INNER_VOXELS);
    let band: Vec<f32> = (0..values.len())
        .filter(|&n| outer[n] && !inner[n])
        .map(|n| values[n])
        .collect();
    let band = if band.is_empty() {
        // The particle fills the grid: use whatever lies outside the inner dilation.
        (0..values.len())
            .filter(|&n| !inner[n])
            .map(|n| values[n])
            .collect()
    } else {
        band
    };
    ensure!(
        !band.is_empty(),
        "the particle fills the whole grid: no background is left to measure (pad the reconstruction)"
    );
    median(&band)
}

/// `volume − background` and the half-height threshold on it.
fn half_height_cut(volume: &Volume, shape: [usize; 3], background: f64) -> Result<(Vec<f32>, f64)> {
    let corrected = subtract_background(volume, background);
    let threshold = half_height_threshold(&corrected, shape, otsu_threshold(&corrected)?);
    Ok((corrected, threshold))
}

/// Segments the particle in a reconstruction (docs/METHOD.md §4.4).
pub fn segment(volume: &Volume) -> Result<Segmentation> {
    segment_at_level(volume, 1.0)
}

/// [`segment`] with the final cut at `level` times the half-height threshold (`data.start_level`).
pub fn segment_at_level(volume: &Volume, level: f64) -> Result<Segmentation> {
    let shape = volume.shape();
    let values = volume.as_slice();
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        bail!("the reconstruction holds a non-finite value ({bad}); it cannot be segmented");
    }
    // The band lies outside a first, rough mask. Before heating Otsu's cut can separate the bright
    // core from the shell rather than the particle from the vacuum, and a band outside the core
    // lies in a thin shell (NR2 at 0.5 nm: background 0.16 of the Ag level, 2% of the particle
    // lost). So the band is measured again outside the particle found with the first estimate.
    let otsu_cut = otsu_threshold(values)? as f32;
    let rough: Vec<bool> = values.iter().map(|&v| v > otsu_cut).collect();
    let first = band_background(values, shape, &rough)?;
    let (corrected, threshold) = half_height_cut(volume, shape, first)?;
    let particle: Vec<bool> = corrected
        .iter()
        .map(|&v| f64::from(v) > threshold)
        .collect();
    let background = band_background(values, shape, &particle)?;
    let (corrected, half_height) = half_height_cut(volume, shape, background)?;
    let threshold = level * half_height;
    let above = Array3::from_shape_vec(
        shape,
        corrected
            .iter()
            .map(|&v| f64::from(v) > threshold)
            .collect(),
    )?;
    let (largest, sizes) = Mask::new(above, volume.voxel_nm())?.largest_component();
    let dropped_voxels = sizes.iter().skip(1).sum();
    let mut inside = largest.data().as_slice().expect("standard layout").to_vec();
    let filled_voxels = fill_holes(&mut inside, shape);
    let mask = Mask::new(Array3::from_shape_vec(shape, inside)?, volume.voxel_nm())?;
    Ok(Segmentation {
        mask,
        background,
        threshold,
        filled_voxels,
        dropped_voxels,
    })
}

/// `volume` after a separable Gaussian of `sigma_voxels` (zero beyond the grid, whose padding holds
/// only background), with the imaging chain's CPU blur.
pub fn smoothed(volume: &Volume, sigma_voxels: f64) -> Result<Volume> {
    ensure!(
        sigma_voxels.is_finite() && sigma_voxels > 0.0,
        "the smoothing sigma must be a positive number of voxels, got {sigma_voxels}"
    );
    let shape = volume.shape();
    let blurred = Backend::Cpu.blur(volume.as_slice(), shape, &gaussian_taps(sigma_voxels))?;
    Ok(Volume::new(
        Array3::from_shape_vec(shape, blurred)?,
        volume.voxel_nm(),
    )?)
}

/// The samples of `volume − background`, which every statistic of a measured reconstruction uses.
fn subtract_background(volume: &Volume, background: f64) -> Vec<f32> {
    volume
        .as_slice()
        .iter()
        .map(|&v| (f64::from(v) - background) as f32)
        .collect()
}

/// Moments of `volume − background` (the segmentation's background) inside `analysis` and on its
/// central slice. `analysis` is the mask the simulation measures its spreads in, the same for every
/// time point: experiment and simulation then follow one rule (docs/METHOD.md §4.3). A mask
/// segmented afresh at each time would not: as Au reaches the surface the segmentation takes in
/// more of the blurred edge (NR1 at 0.5 nm: +1.8% voxels by 600 s), whose low values raise the
/// spread, and the measured α then stops short of 1 while the simulated one does not.
pub fn measure(
    volume: &Volume,
    segmentation: &Segmentation,
    analysis: &AnalysisRegion,
) -> Result<Measured> {
    let background = segmentation.background;
    check_same_grid("reconstruction and mask", volume.grid(), analysis.grid)?;
    let corrected = subtract_background(volume, background);
    let moments = Backend::Cpu.moments_in(&corrected, &analysis.bits)?;
    let slice_moments: Moments = Backend::Cpu.moments_in(&corrected, &analysis.slice_bits)?;
    Ok(Measured {
        spread: moments.coefficient_of_variation(),
        slice_spread: slice_moments.coefficient_of_variation(),
        mask_voxels: segmentation.mask.count(),
        background,
        threshold: segmentation.threshold,
        filled_voxels: segmentation.filled_voxels,
        dropped_voxels: segmentation.dropped_voxels,
    })
}

/// The Au fraction per voxel (docs/METHOD.md §4.4): I is affine in c; I_Ag comes from the mean
/// intensity inside the mask and the known mean composition, c = (I/I_Ag − 1)/(r − 1), clipped to
/// [0, 1]. 0 outside the mask.
pub fn composition_map(
    volume: &Volume,
    mask: &Mask,
    background: f64,
    mean_au_fraction: f64,
    contrast_ratio: f64,
) -> Result<Volume> {
    let unclipped =
        calibrated_composition(volume, mask, background, mean_au_fraction, contrast_ratio)?;
    Ok(Volume::new(
        unclipped.mapv(|c| c.clamp(0.0, 1.0)),
        volume.voxel_nm(),
    )?)
}

/// [`composition_map`] before clipping: c = (I/I_Ag − 1)/(r − 1) inside the mask, 0 outside. A
/// reconstruction's noise and ringing take c below 0 and above 1; the matched start
/// ([`super::start_state`]) compares two reconstructions there too.
pub fn calibrated_composition(
    volume: &Volume,
    mask: &Mask,
    background: f64,
    mean_au_fraction: f64,
    contrast_ratio: f64,
) -> Result<Array3<f32>> {
    ensure!(
        (0.0..=1.0).contains(&mean_au_fraction),
        "the mean Au fraction must lie in [0, 1], got {mean_au_fraction}"
    );
    let corrected = subtract_background(volume, background);
    let mean = Backend::Cpu.moments_in(&corrected, &mask.to_bits())?.mean();
    ensure!(
        mean > 0.0,
        "the particle is not brighter than its background: no composition can be calibrated"
    );
    let silver = mean / (1.0 + (contrast_ratio - 1.0) * mean_au_fraction);
    let mut calibrated = Array3::<f32>::zeros(volume.shape());
    for ((c, &i), &inside) in calibrated.iter_mut().zip(&corrected).zip(mask.data()) {
        if inside {
            *c = ((f64::from(i) / silver - 1.0) / (contrast_ratio - 1.0)) as f32;
        }
    }
    Ok(calibrated)
}

/// The two-phase state closest to a composition map: the ⌊c̄·N⌉ voxels of the mask with the highest
/// composition become Au (1), the rest Ag (0), so the mean stays c̄. A core-shell particle before
/// heating has sharp interfaces; a reconstruction smears them (blur, SIRT's resolution, the missing
/// wedge), and a smeared start would decay differently from the particle itself.
pub fn two_phase(map: &Volume, mask: &Mask, mean_au_fraction: f64) -> Result<Volume> {
    check_same_grid("composition map and mask", map.grid(), mask.grid())?;
    let mut inside: Vec<(f32, usize)> = map
        .as_slice()
        .iter()
        .zip(mask.data())
        .enumerate()
        .filter(|(_, (_, m))| **m)
        .map(|(n, (&c, _))| (c, n))
        .collect();
    let au_voxels = (mean_au_fraction * inside.len() as f64).round() as usize;
    inside.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut state = vec![0.0f32; map.as_slice().len()];
    for &(_, n) in &inside[..au_voxels] {
        state[n] = 1.0;
    }
    Ok(Volume::new(
        Array3::from_shape_vec(map.shape(), state)?,
        map.voxel_nm(),
    )?)
}
