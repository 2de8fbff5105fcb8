//! `quantify` as a library call: the measured alloying curve of an experiment (see
//! [`crate::analysis`]), written as curve.csv and quantify.json with the segmented masks.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::analysis::{Quantification, prepare_experiment};
use crate::backend::Backend;
use crate::experiment::LoadedExperiment;
use crate::io::{Overwrite, StagedDir, write_bytes_atomically, write_volume};
use crate::progress::Progress;

use super::csv_file;

/// One row of curve.csv (and of a fit's measured.csv): empty cells where a curve has no value.
#[derive(Serialize)]
struct CurveRow {
    t_s: f64,
    alpha: f64,
    alpha_corrected: Option<f64>,
    alpha_uncorrected: Option<f64>,
    spread: Option<f64>,
    slice_cv: Option<f64>,
    mask_voxels: Option<usize>,
}

/// The measured curve, one row per time.
pub fn write_curve_csv(path: &Path, q: &Quantification) -> Result<()> {
    csv_file(path, Overwrite::Refuse, |out| {
        for (n, &t_s) in q.times_s.iter().enumerate() {
            let measured = q.measured.as_ref().map(|m| m[n]);
            out.serialize(CurveRow {
                t_s,
                alpha: q.alpha[n],
                alpha_corrected: q.alpha_corrected.as_ref().map(|a| a[n]),
                alpha_uncorrected: q.alpha_uncorrected.as_ref().map(|a| a[n]),
                spread: measured.map(|m| m.spread),
                slice_cv: measured.map(|m| m.slice_spread),
                mask_voxels: measured.map(|m| m.mask_voxels),
            })?;
        }
        Ok(())
    })
}

/// Quantifies `loaded` on `backend` and writes curve.csv, quantify.json and masks/ into `staged`
/// (not committed).
pub fn quantify_into(
    loaded: &LoadedExperiment,
    backend: &Backend,
    staged: &StagedDir,
    progress: &mut dyn Progress,
) -> Result<Quantification> {
    let (segmented, quantified, _) = prepare_experiment(backend, loaded, progress)?;
    let q = quantified.quantification;
    write_curve_csv(&staged.path("curve.csv"), &q)?;
    write_bytes_atomically(
        &staged.path("quantify.json"),
        Overwrite::Refuse,
        (serde_json::to_string_pretty(&q)? + "\n").as_bytes(),
    )?;
    if !segmented.segmentations.is_empty() {
        std::fs::create_dir_all(staged.path("masks"))?;
        for (n, segmentation) in segmented.segmentations.iter().enumerate() {
            let name = format!("masks/mask_{n:02}_t{}s.tif", q.times_s[n]);
            write_volume(
                &staged.path(&name),
                &segmentation.mask.to_volume(),
                Overwrite::Refuse,
            )?;
        }
    }
    Ok(q)
}
