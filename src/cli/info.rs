//! `alloyfit info FILE`: shape, sample type, voxel size and value range of a volume or tilt series.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use alloyfit::io::read_volume;
use alloyfit::stats::{Summary, summarize};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TIFF stack or MRC file.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Info {
    file: PathBuf,
    /// [k, i, j]: pages/sections, rows, columns.
    shape: [usize; 3],
    sample_type: &'static str,
    voxel_nm: Option<f64>,
    #[serde(flatten)]
    summary: Summary,
}

pub fn run(args: &Args) -> Result<()> {
    let file = read_volume(&args.file)?;
    let shape = file.data.shape();
    let info = Info {
        file: args.file.clone(),
        shape: [shape[0], shape[1], shape[2]],
        sample_type: file.sample_type.name(),
        voxel_nm: file.voxel_nm,
        summary: summarize(file.data.view()),
    };
    if args.json {
        return super::print_json(&info);
    }
    let [k, i, j] = info.shape;
    println!("file        {}", info.file.display());
    println!("shape       {k} x {i} x {j} (k, i, j: slices, rows, columns)");
    println!("sample type {}", info.sample_type);
    match info.voxel_nm {
        Some(v) => println!("voxel size  {v} nm"),
        None => println!("voxel size  not stored in the file"),
    }
    let s = info.summary;
    println!("min / max   {} / {}", s.min, s.max);
    println!("mean        {}", s.mean);
    if s.non_finite > 0 {
        println!("non-finite  {} samples (NaN or infinite)", s.non_finite);
    }
    Ok(())
}
