//! The fast CPU kernels, for the kernels where the plain twin of [`super::cpu`] leaves speed on the
//! table: the projectors, which take eight slices at once as one AVX2 vector, and the diffusion
//! step, whose interior rows vectorise and which fuses two steps into one sweep on fields larger
//! than the caches. Each gives its twin's result, bit for bit where the order of operations is the
//! same (diffusion, forward projection) and to f32 rounding where it is not (the back projector
//! scatters where the shader gathers); tests/fast_kernels.rs checks them. [`super::CpuKernels`]
//! runs these.

pub mod back_project;
pub mod diffusion;
pub mod forward_project;
pub mod projector;

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
