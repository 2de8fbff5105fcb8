//! The start mask: where the simulated particle ends and where every spread is measured, cut from
//! the t = 0 reconstruction by one of the rules of `data.start_mask` (docs/METHOD.md §4.4). This
//! room owns the rule's shape ([`StartShape`]: the rule, the smoothing width and the level of the
//! cut, passed as an argument rather than written into a copy of the experiment) and the mask it
//! cuts ([`start_mask`]). The fits that search the shape (`fit::start_level`) and check the rule
//! (`fit::start_check`) use it; it uses neither, so it sits below the quantification.

use anyhow::Result;

use crate::experiment::{DataSection, StartMask};
use crate::imaging::quantify::{Segmentation, segment_at_level, smoothed};
use crate::volume::{Mask, Volume};

/// The start mask's shape: its rule and, for the smoothed and fitted rules, the Gaussian sigma of
/// the smoothing and the level of the cut (a fraction of the half-height threshold).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartShape {
    pub rule: StartMask,
    pub smoothing_voxels: f64,
    pub level: f64,
}

impl StartShape {
    /// The shape an experiment's `data` section asks for.
    pub fn of(data: &DataSection) -> StartShape {
        StartShape {
            rule: data.start_mask,
            smoothing_voxels: data.start_smoothing_voxels,
            level: data.start_level,
        }
    }

    /// This shape with another rule.
    pub fn with_rule(self, rule: StartMask) -> StartShape {
        StartShape { rule, ..self }
    }

    /// This shape smoothed by `smoothing_voxels` and cut at `level`.
    pub fn at(self, smoothing_voxels: f64, level: f64) -> StartShape {
        StartShape {
            smoothing_voxels,
            level,
            ..self
        }
    }

    /// `start mask smoothed 0.70 voxel, level 1.0000`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "start mask smoothed {:.2} voxel, level {:.4}",
            self.smoothing_voxels, self.level
        )
    }
}

/// The particle mask cut from the t = 0 reconstruction `first` (segmented as `segmentation`) by
/// `shape`'s rule.
pub fn start_mask(first: &Volume, segmentation: &Segmentation, shape: &StartShape) -> Result<Mask> {
    Ok(match shape.rule {
        StartMask::Segmented => segmentation.mask.clone(),
        StartMask::Smoothed | StartMask::Fitted => {
            segment_at_level(&smoothed(first, shape.smoothing_voxels)?, shape.level)?.mask
        }
    })
}
