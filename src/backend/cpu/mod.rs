//! The CPU reference: one plain function per GPU kernel, mirroring its shader line for line
//! (same loops, same names, same order of operations), multithreaded with rayon. A reader checks a
//! shader against its twin side by side; tests check the GPU and the fast CPU kernels
//! ([`super::fast`]) against these.

pub mod back_project;
pub mod blur;
pub mod diffusion;
pub mod forward_project;
pub mod grid;
pub mod intensity;
pub mod masked_moments;
pub mod projector;
pub mod sirt_residual;
pub mod sirt_update;
pub mod smooth_noise;
