//! alloyfit measures how fast Au and Ag inter-diffuse inside one nanoparticle, from in-situ
//! electron-tomography reconstructions (see docs/METHOD.md for the method).
//!
//! Data flows one way: [`io`] → [`phantom`] (and, later, quantification) → physics kernels on a
//! [`backend`] → fit → report. The binary in `main.rs` is a thin command-line layer over this
//! crate.

pub mod analysis;
pub mod backend;
pub mod diffusion;
pub mod experiment;
pub mod fit;
pub mod imaging;
pub mod io;
pub mod memory;
pub mod phantom;
pub mod plot;
pub mod progress;
pub mod start_mask;
pub mod stats;
pub mod synth;
pub mod tomography;
pub mod volume;
pub mod workflow;

pub use volume::{Mask, Volume, VolumeError};
