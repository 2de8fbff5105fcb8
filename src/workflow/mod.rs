//! The workflows a person runs, as library calls (docs/ARCHITECTURE.md): [`fit`] (the report folder
//! and its typed [`fit::Report`]), [`quantify`], [`simulate`], [`reconstruct`] and [`batch`]
//! (manifests, shards, the batch loop and the summary table). They own every output file's format;
//! the command line only parses arguments, opens the backend and prints.

pub mod batch;
pub mod fit;
pub mod quantify;
pub mod reconstruct;
pub mod simulate;

use std::path::Path;

use anyhow::Result;

use crate::io::{Overwrite, write_atomically};

/// Writes a CSV file at `path` atomically through `write`, replacing one only under `overwrite`.
pub(crate) fn csv_file(
    path: &Path,
    overwrite: Overwrite,
    write: impl FnOnce(&mut csv::Writer<&mut std::io::BufWriter<std::fs::File>>) -> Result<()>,
) -> Result<()> {
    write_atomically(path, overwrite, |out| {
        let mut writer = csv::Writer::from_writer(out);
        write(&mut writer)?;
        writer.flush()?;
        Ok(())
    })
}
