//! The shader registry: every compute shader in shaders/, declared once here with the shared code
//! it needs (WGSL has no includes, so shared code is prepended when a shader is loaded). A new
//! shader is one variant of [`Shader`] and one row of [`SHADERS`]; the context compiles every one
//! at open, and tests/gpu_kernels.rs validates every file in shaders/ against this list.

use anyhow::Result;

use super::fault::{GpuFault, InjectedFault};

/// The voxel grid the per-voxel shaders share.
const GRID: &str = include_str!("../../../shaders/shared/grid.wgsl");
/// The ray and geometry code the projectors share (after the grid).
const PROJECTOR: &str = include_str!("../../../shaders/shared/projector.wgsl");

/// A compute shader (entry point `main`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shader {
    MaskedMoments,
    Diffusion,
    ForwardProject,
    BackProject,
    SirtResidual,
    SirtUpdate,
    Intensity,
    Blur,
    SmoothNoise,
}

/// A shader's file name in shaders/ (without `.wgsl`), the shared code it needs (in order), and its
/// body.
struct ShaderFile {
    name: &'static str,
    shared: &'static [&'static str],
    body: &'static str,
}

/// One row per [`Shader`], in the order of [`Shader::ALL`].
const SHADERS: [ShaderFile; 9] = [
    ShaderFile {
        name: "masked_moments",
        shared: &[],
        body: include_str!("../../../shaders/masked_moments.wgsl"),
    },
    ShaderFile {
        name: "diffusion",
        shared: &[GRID],
        body: include_str!("../../../shaders/diffusion.wgsl"),
    },
    ShaderFile {
        name: "forward_project",
        shared: &[GRID, PROJECTOR],
        body: include_str!("../../../shaders/forward_project.wgsl"),
    },
    ShaderFile {
        name: "back_project",
        shared: &[GRID, PROJECTOR],
        body: include_str!("../../../shaders/back_project.wgsl"),
    },
    ShaderFile {
        name: "sirt_residual",
        shared: &[],
        body: include_str!("../../../shaders/sirt_residual.wgsl"),
    },
    ShaderFile {
        name: "sirt_update",
        shared: &[],
        body: include_str!("../../../shaders/sirt_update.wgsl"),
    },
    ShaderFile {
        name: "intensity",
        shared: &[GRID],
        body: include_str!("../../../shaders/intensity.wgsl"),
    },
    ShaderFile {
        name: "blur",
        shared: &[GRID],
        body: include_str!("../../../shaders/blur.wgsl"),
    },
    ShaderFile {
        name: "smooth_noise",
        shared: &[],
        body: include_str!("../../../shaders/smooth_noise.wgsl"),
    },
];

impl Shader {
    pub const ALL: [Shader; 9] = [
        Shader::MaskedMoments,
        Shader::Diffusion,
        Shader::ForwardProject,
        Shader::BackProject,
        Shader::SirtResidual,
        Shader::SirtUpdate,
        Shader::Intensity,
        Shader::Blur,
        Shader::SmoothNoise,
    ];

    fn file(self) -> &'static ShaderFile {
        &SHADERS[self as usize]
    }

    /// Its file name in shaders/, without `.wgsl`.
    pub fn name(self) -> &'static str {
        self.file().name
    }

    /// The WGSL source as compiled: the shared code it uses, then its own.
    pub fn source(self) -> String {
        let file = self.file();
        let mut source = file.shared.join("\n");
        source.push('\n');
        source.push_str(file.body);
        source
    }
}

/// The source of the shader whose file in shaders/ is `name`.wgsl, if the registry has it.
pub fn shader_source(name: &str) -> Option<String> {
    Shader::ALL
        .iter()
        .find(|shader| shader.name() == name)
        .map(|shader| shader.source())
}

/// Compiles one WGSL compute shader (entry point `main`), turning validation errors into a
/// [`GpuFault::ShaderCompilation`]. An injected shader fault breaks the diffusion shader's source.
pub(super) fn compile(
    device: &wgpu::Device,
    shader: Shader,
    adapter: &str,
    injected: Option<InjectedFault>,
) -> Result<wgpu::ComputePipeline> {
    let label = shader.name();
    let mut source = shader.source();
    if injected == Some(InjectedFault::Shader) && shader == Shader::Diffusion {
        source.push_str("\nfn injected_fault() -> f32 { return undefined_name; }\n");
    }
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    if let Some(error) = pollster::block_on(scope.pop()) {
        return Err(GpuFault::ShaderCompilation {
            shader: label.to_owned(),
            adapter: adapter.to_owned(),
            reason: error.to_string(),
        }
        .into());
    }
    Ok(pipeline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shader_has_its_own_row() {
        for (index, shader) in Shader::ALL.iter().enumerate() {
            assert_eq!(*shader as usize, index, "{shader:?} is out of order");
            assert!(shader.source().contains("fn main"), "{shader:?}");
        }
    }
}
