//! The CPU reference: one plain function per GPU kernel, mirroring its shader line for line
//! (same chunking, same names), multithreaded with rayon. It validates the shaders and serves
//! machines without a GPU.

pub mod back_project;
pub mod blur;
pub mod diffusion;
pub mod forward_project;
pub mod intensity;
pub mod masked_moments;
pub mod projector;
pub mod sirt_residual;
pub mod sirt_update;
pub mod smooth_noise;
