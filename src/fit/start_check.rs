//! The start check: the experiment fitted again with the other rule for its start mask
//! (`data.start_mask`), so that a report says how far the start state alone moves D. The SD measures
//! the noise; the start state comes from the t = 0 reconstruction, whose segmentation rounds edges,
//! stretches along the beam and takes the noise into its surface, and two defensible segmentations
//! differ by about 2% in D on NC1 at 2 nm (docs/PERFORMANCE.md, "Coverage against the noise level").

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{FitOutcome, fit};
use crate::analysis::{SegmentedReconstructions, prepare_segmented};
use crate::backend::Backend;
use crate::experiment::{LoadedExperiment, StartMask};
use crate::progress::Progress;
use crate::start_mask::StartShape;

/// A shift of D beyond this many SDs draws a warning.
const WARN_ABOVE_SD: f64 = 2.0;

/// D fitted again with the other start-mask rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartCheck {
    pub start_mask: StartMask,
    pub d_m2s: f64,
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub sd_m2s: f64,
    pub mse: f64,
    /// (D_check − D)/D.
    pub shift_relative: f64,
    /// (D_check − D)/SD, with the SD of the first fit.
    #[serde(deserialize_with = "crate::io::nan_for_null")]
    pub shift_sd: f64,
}

impl StartCheck {
    /// A warning when the start state moves D by more than [`WARN_ABOVE_SD`] SDs.
    pub fn warning(&self) -> Option<String> {
        (self.shift_sd.abs() > WARN_ABOVE_SD).then(|| {
            format!(
                "with the t = 0 reconstruction {}, D moves by {:+.1}% ({:+.1} SD): the SD does not include the start state's error",
                self.start_mask.describe(),
                100.0 * self.shift_relative,
                self.shift_sd
            )
        })
    }
}

/// Fits `loaded` again with the other start-mask rule, on the reconstructions already read and
/// segmented, or None where there is nothing to check: `fit.start_check` is off, the mask is given
/// (`data.mask`), the rule is the fitted one, or the experiment is a measured curve.
pub fn start_check(
    backend: &Backend,
    loaded: &LoadedExperiment,
    segmented: &SegmentedReconstructions,
    first: &FitOutcome,
    table_points: usize,
    progress: &mut dyn Progress,
) -> Result<Option<StartCheck>> {
    let data = &loaded.experiment.data;
    let Some(start_mask) = data.start_mask.other() else {
        return Ok(None);
    };
    if !loaded.experiment.fit.start_check || !data.start_mask_applies() {
        return Ok(None);
    }
    progress.line(&format!(
        "start check: fitting again with the t = 0 reconstruction {}",
        start_mask.describe()
    ));
    let shape = StartShape::of(data).with_rule(start_mask);
    let (quantified, mut simulator) =
        prepare_segmented(backend, loaded, segmented, &shape, None, progress)?;
    let outcome = fit(
        backend,
        &quantified.quantification,
        &mut simulator,
        &loaded.experiment.fit,
        table_points,
        progress,
    )?;
    Ok(Some(StartCheck {
        start_mask,
        d_m2s: outcome.d_m2s,
        sd_m2s: outcome.sd_m2s,
        mse: outcome.mse,
        shift_relative: outcome.d_m2s / first.d_m2s - 1.0,
        shift_sd: (outcome.d_m2s - first.d_m2s) / first.sd_m2s,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(shift_sd: f64) -> StartCheck {
        StartCheck {
            start_mask: StartMask::Smoothed,
            d_m2s: 2.7e-19,
            sd_m2s: 1e-21,
            mse: 1e-6,
            shift_relative: 0.022,
            shift_sd,
        }
    }

    #[test]
    fn warns_only_beyond_two_sd_either_way() {
        assert!(check(1.99).warning().is_none());
        assert!(check(-1.99).warning().is_none());
        let warning = check(-2.3).warning().expect("a warning at -2.3 SD");
        assert!(
            warning.contains("smoothed")
                && warning.contains("+2.2%")
                && warning.contains("-2.3 SD"),
            "{warning}"
        );
        assert!(check(2.01).warning().is_some());
    }
}
