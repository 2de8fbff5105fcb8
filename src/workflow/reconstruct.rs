//! `reconstruct`'s output besides the volume: the residual norm of each SIRT iterate, as CSV.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::io::Overwrite;

use super::csv_file;

#[derive(Serialize)]
struct ResidualRow {
    iteration: usize,
    residual_norm: f64,
}

/// ‖p − A xₙ‖₂ of each iterate xₙ, one row per iteration n.
pub fn write_residual_norms(path: &Path, norms: &[f64], overwrite: Overwrite) -> Result<()> {
    csv_file(path, overwrite, |out| {
        for (iteration, &residual_norm) in norms.iter().enumerate() {
            out.serialize(ResidualRow {
                iteration,
                residual_norm,
            })?;
        }
        Ok(())
    })
}
