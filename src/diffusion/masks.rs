//! The mask a diffusion run uses (docs/METHOD.md §4.1): an optional reshaped mask replaces the
//! measured one (voxels new to the mask take the composition of the nearest old voxel), and only
//! the largest 6-connected component diffuses.

use std::collections::VecDeque;

use anyhow::{Result, ensure};
use ndarray::Array3;

use crate::volume::{Mask, Volume, check_same_grid, face_neighbours};

/// The mask and initial composition a run starts from, with what preparing them changed.
#[derive(Debug, Clone)]
pub struct PreparedMask {
    pub mask: Mask,
    /// C0, 0 outside `mask`.
    pub composition: Volume,
    /// Voxels dropped because they lie outside the largest 6-connected component.
    pub dropped_voxels: usize,
    /// Voxels the reshaped mask added (filled from their nearest old voxel) and removed.
    pub added_voxels: usize,
    pub removed_voxels: usize,
}

/// Applies the reshaped mask (if any), keeps the largest component, and zeroes C0 outside it.
pub fn prepare_mask(
    composition: &Volume,
    mask: &Mask,
    reshaped: Option<&Mask>,
) -> Result<PreparedMask> {
    check_same_grid("composition and mask", composition.grid(), mask.grid())?;
    ensure!(mask.count() > 0, "the mask is empty: nothing can diffuse");
    let (mut values, target, added, removed) = match reshaped {
        Some(reshaped) => {
            check_same_grid("mask and reshaped mask", mask.grid(), reshaped.grid())?;
            ensure!(reshaped.count() > 0, "the reshaped mask is empty");
            let added = count_where(reshaped, mask, |new, old| new && !old);
            let removed = count_where(reshaped, mask, |new, old| !new && old);
            let filled = fill_from_nearest(composition.data(), mask.data(), reshaped.data());
            (filled, reshaped.clone(), added, removed)
        }
        None => (composition.data().clone(), mask.clone(), 0, 0),
    };
    let (largest, sizes) = target.largest_component();
    let dropped = sizes.iter().skip(1).sum();
    values.zip_mut_with(largest.data(), |c, &inside| {
        if !inside {
            *c = 0.0;
        }
    });
    Ok(PreparedMask {
        composition: Volume::new(values, composition.voxel_nm())?,
        mask: largest,
        dropped_voxels: dropped,
        added_voxels: added,
        removed_voxels: removed,
    })
}

fn count_where(a: &Mask, b: &Mask, keep: impl Fn(bool, bool) -> bool) -> usize {
    a.data()
        .iter()
        .zip(b.data())
        .filter(|&(&x, &y)| keep(x, y))
        .count()
}

/// C0 with every voxel of `new` that is not in `old` set to the value of its nearest `old` voxel,
/// nearest in 6-connected steps (a multi-source breadth-first search from all `old` voxels).
fn fill_from_nearest(values: &Array3<f32>, old: &Array3<bool>, new: &Array3<bool>) -> Array3<f32> {
    let shape = values.shape();
    let (n_k, n_i, n_j) = (shape[0], shape[1], shape[2]);
    let source = values.as_slice().expect("standard layout");
    let old = old.as_slice().expect("standard layout");
    let mut filled: Vec<Option<f32>> = old
        .iter()
        .zip(source)
        .map(|(&inside, &c)| inside.then_some(c))
        .collect();
    let mut queue: VecDeque<usize> = (0..old.len()).filter(|&n| old[n]).collect();
    while let Some(n) = queue.pop_front() {
        let value = filled[n];
        for m in face_neighbours(n, [n_k, n_i, n_j]).into_iter().flatten() {
            if filled[m].is_none() {
                filled[m] = value;
                queue.push_back(m);
            }
        }
    }
    let new = new.as_slice().expect("standard layout");
    let out = filled
        .iter()
        .zip(new)
        .map(|(value, &inside)| if inside { value.unwrap_or(0.0) } else { 0.0 })
        .collect();
    Array3::from_shape_vec((n_k, n_i, n_j), out).expect("same shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshaped_mask_takes_nearest_values_and_drops_stray_components() {
        let mut c0 = Array3::<f32>::zeros([1, 1, 8]);
        let mut old = Array3::from_elem([1, 1, 8], false);
        for j in 1..4 {
            old[[0, 0, j]] = true;
            c0[[0, 0, j]] = j as f32 * 0.25;
        }
        let mut new = old.clone();
        new[[0, 0, 1]] = false;
        new[[0, 0, 4]] = true;
        new[[0, 0, 5]] = true;
        new[[0, 0, 7]] = true; // a separate one-voxel component
        let prepared = prepare_mask(
            &Volume::new(c0, 1.0).unwrap(),
            &Mask::new(old, 1.0).unwrap(),
            Some(&Mask::new(new, 1.0).unwrap()),
        )
        .unwrap();
        let values: Vec<f32> = prepared.composition.data().iter().copied().collect();
        assert_eq!(values, vec![0.0, 0.0, 0.5, 0.75, 0.75, 0.75, 0.0, 0.0]);
        assert_eq!(prepared.mask.count(), 4);
        assert_eq!(
            (
                prepared.added_voxels,
                prepared.removed_voxels,
                prepared.dropped_voxels
            ),
            (3, 1, 1)
        );
    }
}
