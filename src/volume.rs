//! Volumes and masks: the two data types every stage passes around.
//!
//! A [`Volume`] is a 3D grid of f32 samples stored `[k][i][j]` (k slowest, along the tilt axis, see
//! docs/METHOD.md §2) with an isotropic voxel size in nm. A [`Mask`] is a boolean grid of the same
//! layout. Constructors check what a caller cannot fix later (positive finite voxel size, non-empty
//! shape); functions that combine two grids call [`check_same_grid`] once at their boundary.

use ndarray::Array3;
use thiserror::Error;

/// Why a volume or mask could not be built or combined.
#[derive(Debug, Error, PartialEq)]
pub enum VolumeError {
    #[error("voxel size must be a positive finite number of nm, got {0}")]
    BadVoxelSize(f64),
    #[error("a volume needs at least one voxel in every dimension, got shape {0:?} ([k, i, j])")]
    EmptyShape([usize; 3]),
    #[error("{what}: shapes differ, {left:?} vs {right:?} ([k, i, j])")]
    ShapeMismatch {
        what: String,
        left: [usize; 3],
        right: [usize; 3],
    },
    #[error("{what}: voxel sizes differ, {left_nm} nm vs {right_nm} nm")]
    VoxelSizeMismatch {
        what: String,
        left_nm: f64,
        right_nm: f64,
    },
}

/// A 3D f32 grid `[k][i][j]` with an isotropic voxel size.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    data: Array3<f32>,
    voxel_nm: f64,
}

/// A boolean grid `[k][i][j]` marking the voxels inside a particle.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    data: Array3<bool>,
    voxel_nm: f64,
}

fn check_grid(shape: &[usize], voxel_nm: f64) -> Result<(), VolumeError> {
    if !(voxel_nm.is_finite() && voxel_nm > 0.0) {
        return Err(VolumeError::BadVoxelSize(voxel_nm));
    }
    if shape.contains(&0) {
        return Err(VolumeError::EmptyShape([shape[0], shape[1], shape[2]]));
    }
    Ok(())
}

impl Volume {
    /// Wraps `data` after checking the voxel size and shape.
    pub fn new(data: Array3<f32>, voxel_nm: f64) -> Result<Self, VolumeError> {
        check_grid(data.shape(), voxel_nm)?;
        Ok(Self { data, voxel_nm })
    }

    /// A volume of zeros.
    pub fn zeros(shape: [usize; 3], voxel_nm: f64) -> Result<Self, VolumeError> {
        Self::new(Array3::zeros(shape), voxel_nm)
    }

    pub fn shape(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }

    pub fn voxel_nm(&self) -> f64 {
        self.voxel_nm
    }

    pub fn data(&self) -> &Array3<f32> {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut Array3<f32> {
        &mut self.data
    }

    pub fn into_data(self) -> Array3<f32> {
        self.data
    }

    /// Samples in memory order (`[k][i][j]`, j fastest).
    pub fn as_slice(&self) -> &[f32] {
        self.data
            .as_slice()
            .expect("Volume data is always in standard layout")
    }
}

impl Mask {
    /// Wraps `data` after checking the voxel size and shape.
    pub fn new(data: Array3<bool>, voxel_nm: f64) -> Result<Self, VolumeError> {
        check_grid(data.shape(), voxel_nm)?;
        Ok(Self { data, voxel_nm })
    }

    /// The voxels of `volume` whose value is above `threshold`.
    pub fn from_threshold(volume: &Volume, threshold: f32) -> Self {
        Self {
            data: volume.data.mapv(|v| v > threshold),
            voxel_nm: volume.voxel_nm,
        }
    }

    pub fn shape(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }

    pub fn voxel_nm(&self) -> f64 {
        self.voxel_nm
    }

    pub fn data(&self) -> &Array3<bool> {
        &self.data
    }

    /// Number of voxels inside the mask.
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&inside| inside).count()
    }

    /// The size in voxels of the box around the inside along k, i and j; None for an empty mask.
    pub fn extent_voxels(&self) -> Option<[usize; 3]> {
        let mut low = [usize::MAX; 3];
        let mut high = [0; 3];
        for ((k, i, j), &inside) in self.data.indexed_iter() {
            if inside {
                for (axis, n) in [k, i, j].into_iter().enumerate() {
                    low[axis] = low[axis].min(n);
                    high[axis] = high[axis].max(n);
                }
            }
        }
        (low[0] <= high[0]).then(|| std::array::from_fn(|axis| high[axis] - low[axis] + 1))
    }

    /// The mask as a volume of 0.0 / 1.0, for writing to files.
    pub fn to_volume(&self) -> Volume {
        Volume {
            data: self.data.mapv(|inside| if inside { 1.0 } else { 0.0 }),
            voxel_nm: self.voxel_nm,
        }
    }

    /// One bit per voxel in memory order, 32 voxels per word, bit `n % 32` of word `n / 32`: the
    /// form the shaders read, 1/32 of the bandwidth of an f32 mask.
    pub fn to_bits(&self) -> Vec<u32> {
        let mut words = vec![0u32; self.data.len().div_ceil(32)];
        for (n, &inside) in self.data.iter().enumerate() {
            if inside {
                words[n / 32] |= 1 << (n % 32);
            }
        }
        words
    }
}

impl Mask {
    /// Sizes of the 6-connected components, largest first, and the mask of the largest one.
    pub fn largest_component(&self) -> (Mask, Vec<usize>) {
        let [n_k, n_i, n_j] = self.shape();
        let inside = self
            .data
            .as_slice()
            .expect("Mask data is always in standard layout");
        let mut label = vec![u32::MAX; inside.len()];
        let mut sizes = Vec::new();
        let mut stack = Vec::new();
        for seed in 0..inside.len() {
            if !inside[seed] || label[seed] != u32::MAX {
                continue;
            }
            let id = sizes.len() as u32;
            let mut size = 0;
            label[seed] = id;
            stack.push(seed);
            while let Some(n) = stack.pop() {
                size += 1;
                for m in face_neighbours(n, [n_k, n_i, n_j]).into_iter().flatten() {
                    if inside[m] && label[m] == u32::MAX {
                        label[m] = id;
                        stack.push(m);
                    }
                }
            }
            sizes.push(size);
        }
        let largest = (0..sizes.len()).max_by_key(|&id| sizes[id]);
        let data = Array3::from_shape_vec(
            self.data.raw_dim(),
            label.iter().map(|&l| Some(l as usize) == largest).collect(),
        )
        .expect("labels have the mask's shape");
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        (
            Mask {
                data,
                voxel_nm: self.voxel_nm,
            },
            sizes,
        )
    }
}

/// The flat indices of the up to six voxels sharing a face with voxel `n` on a grid of `shape`
/// (memory order, `[k][i][j]`); `None` beyond the grid's edge.
pub fn face_neighbours(n: usize, shape: [usize; 3]) -> [Option<usize>; 6] {
    let [n_k, n_i, n_j] = shape;
    let (k, i, j) = (n / (n_i * n_j), n / n_j % n_i, n % n_j);
    [
        (k > 0).then(|| n - n_i * n_j),
        (k + 1 < n_k).then(|| n + n_i * n_j),
        (i > 0).then(|| n - n_j),
        (i + 1 < n_i).then(|| n + n_j),
        (j > 0).then(|| n - 1),
        (j + 1 < n_j).then(|| n + 1),
    ]
}

/// Relative tolerance for two voxel sizes to count as the same (files store them as f32 or as a
/// rational, so exact equality would reject a volume and its own mask).
const VOXEL_SIZE_REL_TOL: f64 = 1e-5;

/// Checks that two grids can be combined voxel by voxel; `what` names them in the error.
pub fn check_same_grid(
    what: &str,
    left: ([usize; 3], f64),
    right: ([usize; 3], f64),
) -> Result<(), VolumeError> {
    if left.0 != right.0 {
        return Err(VolumeError::ShapeMismatch {
            what: what.to_owned(),
            left: left.0,
            right: right.0,
        });
    }
    if (left.1 - right.1).abs() > VOXEL_SIZE_REL_TOL * left.1.max(right.1) {
        return Err(VolumeError::VoxelSizeMismatch {
            what: what.to_owned(),
            left_nm: left.1,
            right_nm: right.1,
        });
    }
    Ok(())
}

impl Volume {
    /// Shape and voxel size, for [`check_same_grid`].
    pub fn grid(&self) -> ([usize; 3], f64) {
        (self.shape(), self.voxel_nm)
    }
}

impl Mask {
    /// Shape and voxel size, for [`check_same_grid`].
    pub fn grid(&self) -> ([usize; 3], f64) {
        (self.shape(), self.voxel_nm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_reject_bad_voxel_sizes_and_empty_shapes() {
        for bad in [-1.0, 0.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Volume::zeros([2, 2, 2], bad),
                Err(VolumeError::BadVoxelSize(_))
            ));
        }
        assert_eq!(
            Volume::zeros([2, 0, 2], 1.0),
            Err(VolumeError::EmptyShape([2, 0, 2]))
        );
    }

    #[test]
    fn grids_must_match_in_shape_and_voxel_size() {
        assert!(check_same_grid("a", ([1, 2, 3], 1.0), ([1, 2, 3], 1.0 + 1e-7)).is_ok());
        assert!(matches!(
            check_same_grid("a", ([1, 2, 3], 1.0), ([1, 3, 2], 1.0)),
            Err(VolumeError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            check_same_grid("a", ([1, 2, 3], 1.0), ([1, 2, 3], 0.5)),
            Err(VolumeError::VoxelSizeMismatch { .. })
        ));
    }

    #[test]
    fn largest_component_uses_face_neighbours_only() {
        let mut data = Array3::from_elem([3, 3, 3], false);
        // Two voxels sharing a face, and one touching them only along an edge.
        data[[0, 0, 0]] = true;
        data[[0, 0, 1]] = true;
        data[[0, 1, 2]] = true;
        data[[2, 2, 2]] = true;
        let (largest, sizes) = Mask::new(data, 1.0).unwrap().largest_component();
        assert_eq!(sizes, vec![2, 1, 1]);
        assert_eq!(largest.count(), 2);
        assert!(largest.data()[[0, 0, 0]] && largest.data()[[0, 0, 1]]);
    }

    #[test]
    fn mask_bits_follow_memory_order() {
        let mut data = Array3::from_elem([1, 3, 13], false);
        data[[0, 0, 1]] = true;
        data[[0, 2, 12]] = true;
        let bits = Mask::new(data, 1.0).unwrap().to_bits();
        assert_eq!(bits, vec![1 << 1, 1 << (38 - 32)]);
    }
}
