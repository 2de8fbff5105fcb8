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

/// A kernel whose loops are worth compiling twice: for 8-wide AVX2 registers and for the baseline.
/// `run` must be `#[inline(always)]`, with its hot loops inlined into it: that is what puts them
/// into the AVX2 build (a closure would be a separate, baseline function).
pub trait Vectorised {
    fn run(self);
}

/// Runs `kernel` in its AVX2 build where the CPU has AVX2 (checked at run time), in the baseline
/// build otherwise. FMA stays off on purpose: the arithmetic is then the same in both builds, so CPU
/// results do not depend on the machine.
pub fn run_vectorised(kernel: impl Vectorised) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn with_avx2(kernel: impl Vectorised) {
            kernel.run();
        }
        // SAFETY: the CPU supports AVX2; checked just above.
        return unsafe { with_avx2(kernel) };
    }
    kernel.run();
}
