//! SIRT as the ASTRA Toolbox defines it (docs/METHOD.md §4.3): x ← clamp(x + λ·C ⊙ Aᵀ(R ⊙ (p − A
//! x))), R = 1/(A·1), C = 1/(Aᵀ·1) (0 where a sum is below 1e-6), x₀ = 0, a fixed number of
//! iterations. The iteration is written once over [`Kernels`]; on the GPU every buffer stays on the
//! device for the whole run and only the residual norms (on request) and the result come back.

use anyhow::{Result, bail, ensure};
use ndarray::Array3;

use super::{TiltGeometry, TiltSeries};
use crate::backend::{Backend, KernelWork, Kernels, SirtUpdateParams};
use crate::progress::Interrupted;
use crate::volume::{Mask, Volume, check_same_grid};

/// Sums of A·1 or Aᵀ·1 below this get weight 0 (ASTRA's rule: such rays or voxels are unseen).
const MIN_WEIGHT_SUM: f32 = 1e-6;

/// SIRT's options, with ASTRA's names in the docs.
#[derive(Debug, Clone, PartialEq)]
pub struct SirtOptions {
    pub iterations: usize,
    /// λ (ASTRA: `Relaxation`).
    pub relaxation: f32,
    /// Box constraint (ASTRA: `MinConstraint`, `MaxConstraint`).
    pub min_value: Option<f32>,
    pub max_value: Option<f32>,
    /// Voxels outside stay 0 (ASTRA: `ReconstructionMaskId`).
    pub mask: Option<Mask>,
    /// Record ‖p − A x‖₂ before each update.
    pub record_residuals: bool,
}

impl Default for SirtOptions {
    fn default() -> Self {
        Self {
            iterations: 50,
            relaxation: 1.0,
            min_value: Some(0.0),
            max_value: None,
            mask: None,
            record_residuals: false,
        }
    }
}

/// A reconstruction and, if asked for, the residual norm ‖p − A xₙ‖₂ of each iterate x₀ … x_{N−1}.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    pub volume: Volume,
    pub residual_norms: Vec<f64>,
}

/// 1/sum where the sum is at least [`MIN_WEIGHT_SUM`], else 0.
fn reciprocal_weights(sums: Vec<f32>) -> Vec<f32> {
    sums.into_iter()
        .map(|s| if s >= MIN_WEIGHT_SUM { 1.0 / s } else { 0.0 })
        .collect()
}

/// SIRT for one geometry and grid on one kernel set: the weights R and C (computed once), the
/// scratch buffers, and the options, reused for every reconstruction.
pub struct SirtSolver<K: Kernels> {
    geometry: K::Geometry,
    row_weights: K::Buffer,
    column_weights: K::Buffer,
    projected: K::Buffer,
    residual: K::Buffer,
    weighted: K::Buffer,
    back_projected: K::Buffer,
    mask: K::Bits,
    series_ones: K::Bits,
    update: SirtUpdateParams,
    iterations: usize,
    record_residuals: bool,
}

impl<K: Kernels> SirtSolver<K> {
    /// Checks the options and computes R = 1/(A·1) and C = 1/(Aᵀ·1) for `geometry`.
    pub fn new(
        kernels: &K,
        geometry: K::Geometry,
        shape: [usize; 3],
        voxel_nm: f64,
        series_len: usize,
        options: &SirtOptions,
    ) -> Result<Self> {
        ensure!(options.iterations > 0, "SIRT needs at least one iteration");
        ensure!(
            options.relaxation.is_finite() && options.relaxation > 0.0,
            "SIRT relaxation must be a positive number, got {}",
            options.relaxation
        );
        let min_value = options.min_value.unwrap_or(f32::NEG_INFINITY);
        let max_value = options.max_value.unwrap_or(f32::INFINITY);
        if min_value.is_nan() || max_value.is_nan() || min_value > max_value {
            bail!("SIRT constraint min {min_value} must not exceed max {max_value}");
        }
        let volume_len: usize = shape.iter().product();
        let mask_bits = match &options.mask {
            Some(mask) => {
                check_same_grid(
                    "reconstruction and its mask",
                    (shape, voxel_nm),
                    mask.grid(),
                )?;
                mask.to_bits()
            }
            None => all_bits(volume_len),
        };
        let k = kernels;
        let mut projected = k.zeros(series_len)?;
        let mut back_projected = k.zeros(volume_len)?;
        let mut encoder = k.encoder();
        let volume_ones = k.upload(&vec![1.0; volume_len])?;
        k.forward(&mut encoder, &geometry, &volume_ones, &mut projected);
        let row_weights = k.upload(&reciprocal_weights(k.download(encoder, &projected)?))?;
        let mut encoder = k.encoder();
        let series_ones = k.upload(&vec![1.0; series_len])?;
        k.back(&mut encoder, &geometry, &series_ones, &mut back_projected);
        let column_weights =
            k.upload(&reciprocal_weights(k.download(encoder, &back_projected)?))?;
        Ok(SirtSolver {
            geometry,
            row_weights,
            column_weights,
            projected,
            residual: kernels.zeros(series_len)?,
            weighted: kernels.zeros(series_len)?,
            back_projected,
            mask: kernels.upload_bits(&mask_bits, volume_len)?,
            series_ones: kernels.upload_bits(&all_bits(series_len), series_len)?,
            update: SirtUpdateParams {
                len: 0,
                groups_per_row: 0,
                relaxation: options.relaxation,
                min_value,
                max_value,
                padding: [0; 3],
            },
            iterations: options.iterations,
            record_residuals: options.record_residuals,
        })
    }

    /// The tilt geometry the solver projects with.
    pub fn geometry(&self) -> &K::Geometry {
        &self.geometry
    }

    /// Records a whole reconstruction from `measured` (on the kernels' side) into `volume`, which
    /// it zeroes first, into `encoder`: on the GPU the run then goes in the caller's one submit.
    pub fn record(
        &mut self,
        kernels: &K,
        encoder: &mut K::Encoder,
        measured: &K::Buffer,
        volume: &mut K::Buffer,
    ) {
        kernels.clear(encoder, volume);
        for _ in 0..self.iterations {
            self.record_residual(kernels, encoder, measured, volume);
            self.record_update(kernels, encoder, volume);
        }
    }

    /// Reconstructs from `measured` into `volume`, which it zeroes first, one submit per iteration
    /// so that `progress(n)` follows the device; returns the residual norms if they were asked for.
    pub fn run(
        &mut self,
        kernels: &K,
        measured: &K::Buffer,
        volume: &mut K::Buffer,
        progress: &mut dyn FnMut(usize) -> Result<(), Interrupted>,
    ) -> Result<Vec<f64>> {
        let k = kernels;
        let mut norms = Vec::new();
        let mut encoder = k.encoder();
        k.clear(&mut encoder, volume);
        for iteration in 0..self.iterations {
            self.record_residual(k, &mut encoder, measured, volume);
            if self.record_residuals {
                let pending = std::mem::replace(&mut encoder, k.encoder());
                let moments = k.moments_in(pending, &self.residual, &self.series_ones)?;
                norms.push(moments.sum_sq.sqrt());
            }
            self.record_update(k, &mut encoder, volume);
            k.submit(std::mem::replace(&mut encoder, k.encoder()));
            progress(iteration + 1)?;
        }
        Ok(norms)
    }

    /// Records p − A x and its weighted form R ⊙ (p − A x).
    fn record_residual(
        &mut self,
        k: &K,
        encoder: &mut K::Encoder,
        measured: &K::Buffer,
        volume: &K::Buffer,
    ) {
        k.forward(encoder, &self.geometry, volume, &mut self.projected);
        k.residual(
            encoder,
            measured,
            &self.projected,
            &self.row_weights,
            &mut self.residual,
            &mut self.weighted,
        );
    }

    /// Records x ← clamp(x + λ·C ⊙ Aᵀ(weighted residual)).
    fn record_update(&mut self, k: &K, encoder: &mut K::Encoder, volume: &mut K::Buffer) {
        k.back(
            encoder,
            &self.geometry,
            &self.weighted,
            &mut self.back_projected,
        );
        k.update(
            encoder,
            volume,
            &self.back_projected,
            &self.column_weights,
            &self.mask,
            &self.update,
        );
    }
}

/// Mask bits with every one of `len` voxels set.
pub fn all_bits(len: usize) -> Vec<u32> {
    vec![u32::MAX; len.div_ceil(32)]
}

/// Reconstructs a volume of `shape` from `series` with SIRT; `progress(n)` after iteration n.
pub fn sirt(
    backend: &Backend,
    series: &TiltSeries,
    geometry: &TiltGeometry,
    shape: [usize; 3],
    voxel_nm: f64,
    options: &SirtOptions,
    progress: &mut dyn FnMut(usize) -> Result<(), Interrupted>,
) -> Result<Reconstruction> {
    let expected = geometry.series_shape(shape);
    ensure!(
        series.shape() == expected,
        "tilt series has shape {:?} but {} angles, {} slices and a {}-pixel detector give {expected:?} ([angle, k, m])",
        series.shape(),
        expected[0],
        expected[1],
        expected[2]
    );
    if let Some(bad) = series.iter().find(|v| !v.is_finite()) {
        bail!("the tilt series holds a non-finite value ({bad}); SIRT needs finite data");
    }
    let measured = series.as_standard_layout();
    let volume_len: usize = shape.iter().product();
    struct Solve<'s> {
        measured: &'s [f32],
        geometry: &'s TiltGeometry,
        shape: [usize; 3],
        voxel_nm: f64,
        options: &'s SirtOptions,
        progress: &'s mut dyn FnMut(usize) -> Result<(), Interrupted>,
    }
    impl KernelWork for Solve<'_> {
        type Output = (Vec<f32>, Vec<f64>);
        fn run<K: Kernels>(self, k: &K) -> Result<(Vec<f32>, Vec<f64>)> {
            let geometry = k.geometry(&self.geometry.rays(), &self.geometry.params(self.shape)?)?;
            let mut solver = SirtSolver::new(
                k,
                geometry,
                self.shape,
                self.voxel_nm,
                self.measured.len(),
                self.options,
            )?;
            let mut volume = k.zeros(self.shape.iter().product())?;
            let measured = k.upload(self.measured)?;
            let norms = solver.run(k, &measured, &mut volume, self.progress)?;
            Ok((k.download(k.encoder(), &volume)?, norms))
        }
    }
    let (voxels, residual_norms) = backend.dispatch(Solve {
        measured: measured.as_slice().expect("standard layout"),
        geometry,
        shape,
        voxel_nm,
        options,
        progress,
    })?;
    debug_assert_eq!(voxels.len(), volume_len);
    Ok(Reconstruction {
        volume: Volume::new(Array3::from_shape_vec(shape, voxels)?, voxel_nm)?,
        residual_norms,
    })
}

/// Reconstructs a measured tilt series (`[angle][k][m]`, one image per angle of `angles_deg`) on
/// square slices as wide as its detector: [`sirt`] after the checks a series from outside needs
/// (its layout and angle count, finite values, the mask's grid). `alloyfit reconstruct`, the
/// tilt-series experiments and the Python module reconstruct through it.
pub fn reconstruct_series(
    backend: &Backend,
    series: &TiltSeries,
    angles_deg: &[f64],
    voxel_nm: f64,
    options: &SirtOptions,
    progress: &mut dyn FnMut(usize) -> Result<(), Interrupted>,
) -> Result<Reconstruction> {
    let angles = angles_deg.len();
    let [images, n_k, n_det] = [series.shape()[0], series.shape()[1], series.shape()[2]];
    if images != angles {
        let hint = if n_k == angles {
            "; it looks stored one image per slice ([k][angle][m]): alloyfit reads one projection \
             per angle, its rows along the tilt axis ([angle][k][m])"
        } else {
            ""
        };
        bail!(
            "{images} projections of {n_k} × {n_det} pixels, but {angles} tilt angles were given{hint}"
        );
    }
    if let Some((index, value)) = series.indexed_iter().find(|(_, v)| !v.is_finite()) {
        bail!(
            "the value at [angle, k, m] = {:?} is {value}; a tilt series must hold finite numbers",
            [index.0, index.1, index.2]
        );
    }
    let shape = [n_k, n_det, n_det];
    if let Some(mask) = &options.mask {
        ensure!(
            mask.shape() == shape,
            "mask shape {:?} does not match the reconstruction {shape:?}",
            mask.shape()
        );
    }
    let geometry = TiltGeometry::new(angles_deg.to_vec(), n_det, 1.0)?;
    sirt(
        backend, series, &geometry, shape, voxel_nm, options, progress,
    )
}
