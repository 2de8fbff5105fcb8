//! Tilt-series geometry and projection (docs/METHOD.md §2, §4.3).
//!
//! Conventions follow the ASTRA Toolbox 2D `parallel` geometry, so data moves between the two tools
//! unchanged. Each k-slice (the tilt axis runs along k) is an independent 2D problem. Pixel (i, j)
//! of an n_i × n_j slice has its centre at x = j + ½ − n_j/2, y = n_i/2 − i − ½ (row 0 at +y), in
//! voxels. A point (x, y) projects at tilt θ to the detector coordinate u = x·cosθ + y·sinθ, and
//! detector pixel m has its centre at u = (m + ½ − n_det/2)·pitch. Projections are line integrals
//! in voxel lengths. A tilt series is `[angle][k][m]`: one projection image per angle, its rows
//! along the tilt axis.
//!
//! The forward projector is Joseph's (ray-driven, linear interpolation across the dominant axis).
//! The back projector is its exact transpose, so ⟨A x, y⟩ = ⟨x, Aᵀ y⟩ to rounding.

pub mod noise;
pub mod sirt;

use anyhow::{Result, bail, ensure};
use ndarray::Array3;

use crate::backend::{Backend, Grid, KernelWork, Kernels, ProjectorParams, Ray};
use crate::volume::Volume;

/// Tilt angles and detector of a single-axis, parallel-beam tilt series.
#[derive(Debug, Clone, PartialEq)]
pub struct TiltGeometry {
    angles_deg: Vec<f64>,
    n_det: usize,
    /// Detector pixel pitch in voxels.
    pitch_voxels: f64,
}

impl TiltGeometry {
    /// Checks the angles (non-empty, finite), the detector size and the pitch.
    pub fn new(angles_deg: Vec<f64>, n_det: usize, pitch_voxels: f64) -> Result<TiltGeometry> {
        ensure!(!angles_deg.is_empty(), "the tilt angle list is empty");
        if let Some(bad) = angles_deg.iter().find(|a| !a.is_finite()) {
            bail!("tilt angle {bad} is not a finite number of degrees");
        }
        ensure!(n_det > 0, "the detector needs at least one pixel");
        ensure!(
            pitch_voxels.is_finite() && pitch_voxels > 0.0,
            "detector pitch must be a positive number of voxels, got {pitch_voxels}"
        );
        Ok(TiltGeometry {
            angles_deg,
            n_det,
            pitch_voxels,
        })
    }

    /// The default detector for a volume: as many pixels as a slice is wide, pitch = voxel size.
    pub fn for_volume(angles_deg: Vec<f64>, shape: [usize; 3]) -> Result<TiltGeometry> {
        TiltGeometry::new(angles_deg, shape[2], 1.0)
    }

    pub fn angles_deg(&self) -> &[f64] {
        &self.angles_deg
    }

    pub fn n_det(&self) -> usize {
        self.n_det
    }

    /// Shape `[angle, k, m]` of the tilt series of a volume of `shape`.
    pub fn series_shape(&self, shape: [usize; 3]) -> [usize; 3] {
        [self.angles_deg.len(), shape[0], self.n_det]
    }

    /// The rays of the angles, as the kernels take them.
    pub fn rays(&self) -> Vec<Ray> {
        self.angles_deg
            .iter()
            .map(|&a| Ray::new(a, self.pitch_voxels))
            .collect()
    }

    /// The projector's sizes for a volume of `shape`, as the kernels take them.
    pub fn params(&self, shape: [usize; 3]) -> Result<ProjectorParams> {
        ensure!(
            shape[1].max(shape[2]) <= MAX_SLICE_EDGE_VOXELS,
            "slices of {} × {} voxels are too large: the projectors' f32 ray coordinates tell voxels apart up to {MAX_SLICE_EDGE_VOXELS} across",
            shape[1],
            shape[2]
        );
        let as_u32 = |n: usize, what: &str| {
            u32::try_from(n).map_err(|_| anyhow::anyhow!("{what} {n} is too large"))
        };
        Ok(ProjectorParams {
            grid: Grid::new([
                as_u32(shape[0], "slice count")?,
                as_u32(shape[1], "row count")?,
                as_u32(shape[2], "column count")?,
            ]),
            n_det: as_u32(self.n_det, "detector size")?,
            n_angles: as_u32(self.angles_deg.len(), "angle count")?,
            pitch: self.pitch_voxels as f32,
            padding: 0,
        })
    }
}

/// The widest slice the projectors take: 2^24, where f32 coordinates stop telling voxels apart.
const MAX_SLICE_EDGE_VOXELS: usize = 1 << 24;

/// A tilt series `[angle][k][m]`.
pub type TiltSeries = Array3<f32>;

/// The tilt series of `volume`: A x. A volume with a non-finite value is refused.
pub fn forward_project(
    backend: &Backend,
    volume: &Volume,
    geometry: &TiltGeometry,
) -> Result<TiltSeries> {
    if let Some(bad) = volume.data().iter().find(|v| !v.is_finite()) {
        bail!("the volume holds a non-finite value ({bad})");
    }
    let shape = volume.shape();
    let series_shape = geometry.series_shape(shape);
    let samples = backend.dispatch(Project {
        input: volume.as_slice(),
        geometry,
        shape,
        direction: Direction::Forward,
        output_len: series_shape.iter().product(),
    })?;
    Ok(Array3::from_shape_vec(series_shape, samples)?)
}

/// The back projection of `series` into a volume of `shape`: Aᵀ y.
pub fn back_project(
    backend: &Backend,
    series: &TiltSeries,
    geometry: &TiltGeometry,
    shape: [usize; 3],
    voxel_nm: f64,
) -> Result<Volume> {
    let expected = geometry.series_shape(shape);
    ensure!(
        series.shape() == expected,
        "tilt series has shape {:?} but the geometry gives {expected:?} ([angle, k, m])",
        series.shape()
    );
    let samples = series.as_standard_layout();
    let voxels = backend.dispatch(Project {
        input: samples.as_slice().expect("standard layout"),
        geometry,
        shape,
        direction: Direction::Back,
        output_len: shape.iter().product(),
    })?;
    Ok(Volume::new(
        Array3::from_shape_vec(shape, voxels)?,
        voxel_nm,
    )?)
}

enum Direction {
    Forward,
    Back,
}

/// One projection (A x or Aᵀ y) of host samples, read back.
struct Project<'p> {
    input: &'p [f32],
    geometry: &'p TiltGeometry,
    shape: [usize; 3],
    direction: Direction,
    output_len: usize,
}

impl KernelWork for Project<'_> {
    type Output = Vec<f32>;
    fn run<K: Kernels>(self, k: &K) -> Result<Vec<f32>> {
        let geometry = k.geometry(&self.geometry.rays(), &self.geometry.params(self.shape)?)?;
        let input = k.upload(self.input)?;
        let mut output = k.zeros(self.output_len)?;
        let mut encoder = k.encoder();
        match self.direction {
            Direction::Forward => k.forward(&mut encoder, &geometry, &input, &mut output),
            Direction::Back => k.back(&mut encoder, &geometry, &input, &mut output),
        }
        k.download(encoder, &output)
    }
}
