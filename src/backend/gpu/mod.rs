//! The wgpu side: one [`GpuContext`] owns the chosen adapter ([`adapter`]), the device, the queue
//! and every compute pipeline of the shader registry ([`shaders`], compiled once, at open), and
//! allocates, records, submits and reads back. Kernels record into a command encoder that the
//! caller submits, so long runs go in few submits; only small results are read back. Faults
//! (device loss, out of memory, shader errors) and their injection for tests are in [`fault`].

mod adapter;
mod fault;
mod shaders;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

pub use adapter::{AdapterSummary, list_adapters};
use adapter::{is_hardware, sorted_adapters, summarize};
pub use fault::{GpuFault, find_fault};
use fault::{InjectedFault, LOST_AFTER_SUBMITS};
use shaders::compile;
pub use shaders::{Shader, shader_source};

use anyhow::{Context, Result, bail};
use wgpu::util::DeviceExt;

use super::cpu::blur::BlurParams;
use super::cpu::intensity::IntensityParams;
use super::cpu::masked_moments::WORKGROUP_SIZE;
use super::cpu::projector::{ProjectorParams, Ray};
use super::cpu::sirt_update::SirtUpdateParams;
use super::cpu::smooth_noise::SmoothNoiseParams;
use super::{DeviceChoice, DeviceRequest, DiffusionParams, Grid, Moments};

/// Elements per workgroup of the element-wise SIRT kernels.
const ELEMENTWISE_GROUP: u32 = 256;
/// Detector pixels (forward) or voxels of a row (back) per projector workgroup.
const PROJECTOR_ROW_GROUP: u32 = 64;

/// Voxels of a row per workgroup of the per-voxel grid kernels (diffusion, intensity, blur: their
/// `workgroup_size`).
const ROW_GROUP: u32 = 64;

/// Kernels recorded for one submit.
pub type GpuEncoder = wgpu::CommandEncoder;

/// Workgroups one dispatch dimension may hold under WebGPU's limits on every adapter we target.
const MAX_GROUPS_PER_DIMENSION: u32 = 65_535;

/// The device, queue and compiled pipelines of one adapter.
pub struct GpuContext {
    summary: AdapterSummary,
    limits: wgpu::Limits,
    device: wgpu::Device,
    queue: wgpu::Queue,
    health: fault::DeviceHealth,
    injected: Option<InjectedFault>,
    submits: AtomicUsize,
    /// One per [`Shader`], in [`Shader::ALL`]'s order.
    pipelines: Vec<wgpu::ComputePipeline>,
    /// Uniform buffers by their contents: a kernel recorded again with the same parameters (every
    /// SIRT iteration, every imaging of a chain) reuses its uniform instead of allocating one.
    uniforms: Mutex<HashMap<Vec<u8>, wgpu::Buffer>>,
}

/// Distinct uniforms kept before the cache starts afresh; a fit makes a few hundred (the partial
/// diffusion steps differ in β).
const MAX_CACHED_UNIFORMS: usize = 4096;

/// A tilt geometry on the device: the rays and the projector's uniform.
pub struct GpuGeometry {
    rays: wgpu::Buffer,
    params_buffer: wgpu::Buffer,
    params: ProjectorParams,
}

/// A volume's samples on the device.
pub struct GpuVolume {
    buffer: wgpu::Buffer,
    voxel_count: u32,
}

/// A mask on the device, one bit per voxel.
pub struct GpuMask {
    buffer: wgpu::Buffer,
    voxel_count: u32,
}

impl GpuContext {
    /// Opens the adapter `request` asks for; `None` means: use the CPU path.
    pub fn open(request: &DeviceRequest) -> Result<Option<GpuContext>> {
        if request.choice == DeviceChoice::Cpu {
            return Ok(None);
        }
        let adapters = sorted_adapters();
        let wanted = |adapter: &&wgpu::Adapter| {
            request.adapter.as_ref().is_none_or(|filter| {
                adapter
                    .get_info()
                    .name
                    .to_lowercase()
                    .contains(&filter.to_lowercase())
            })
        };
        // Naming an adapter is a request for it, software or not; otherwise auto wants hardware.
        let chosen = adapters.iter().filter(wanted).find(|adapter| {
            request.choice == DeviceChoice::Gpu
                || request.adapter.is_some()
                || is_hardware(&adapter.get_info())
        });
        match (chosen, request.choice) {
            (Some(adapter), _) => Self::from_adapter(adapter).map(Some),
            (None, DeviceChoice::Auto) => Ok(None),
            (None, _) => {
                let found: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
                Err(match &request.adapter {
                    Some(filter) => GpuFault::NoMatchingAdapter {
                        filter: filter.clone(),
                        found: found.join(", "),
                    },
                    None => GpuFault::NoAdapter,
                }
                .into())
            }
        }
    }

    fn from_adapter(adapter: &wgpu::Adapter) -> Result<GpuContext> {
        let summary = summarize(adapter);
        // The adapter's own limits: WebGPU's defaults cap a storage binding at 128 MiB, a 320³ volume.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("alloyfit"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|error| GpuFault::OpenFailed {
            adapter: summary.name.clone(),
            reason: error.to_string(),
        })?;
        let health = fault::DeviceHealth::watch(&device);
        let injected = InjectedFault::from_env();
        let pipelines = Shader::ALL
            .iter()
            .map(|&shader| compile(&device, shader, &summary.name, injected))
            .collect::<Result<Vec<_>>>()?;
        Ok(GpuContext {
            summary,
            limits,
            device,
            queue,
            health,
            injected,
            submits: AtomicUsize::new(0),
            pipelines,
            uniforms: Mutex::new(HashMap::new()),
        })
    }

    fn pipeline(&self, shader: Shader) -> &wgpu::ComputePipeline {
        &self.pipelines[shader as usize]
    }

    /// Adapter name and backend, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.summary.name, self.summary.backend)
    }

    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// Refuses a buffer the device cannot hold, naming the size and the limit.
    pub fn check_fits(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if bytes > limit {
            return Err(GpuFault::TooLarge {
                what: format!(
                    "{what} needs {bytes} bytes ({:.1} MiB) on the GPU but adapter {} allows at most {limit} bytes ({:.1} MiB) per buffer",
                    bytes as f64 / 1048576.0,
                    self.summary.name,
                    limit as f64 / 1048576.0
                ),
            }
            .into());
        }
        Ok(())
    }

    fn voxel_count(what: &str, len: usize) -> Result<u32> {
        u32::try_from(len)
            .with_context(|| format!("{what} has {len} voxels; the GPU path indexes at most 2^32"))
    }

    /// Copies samples in memory order to the device.
    pub fn upload_samples(&self, samples: &[f32]) -> Result<GpuVolume> {
        let voxel_count = Self::voxel_count("volume", samples.len())?;
        self.check_fits("volume", std::mem::size_of_val(samples) as u64)?;
        let buffer = self.allocate(
            "volume",
            Contents::Bytes(bytemuck::cast_slice(samples)),
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        )?;
        Ok(GpuVolume {
            buffer,
            voxel_count,
        })
    }

    /// Submits `encoder`, then copies a volume's samples back from the device.
    pub fn download(&self, encoder: GpuEncoder, volume: &GpuVolume) -> Result<Vec<f32>> {
        let bytes = self.read_back(encoder, &volume.buffer)?;
        Ok(bytemuck::cast_slice(&bytes).to_vec())
    }

    /// Waits until every submitted command has finished (for timing and before handing back control).
    pub fn finish(&self) -> Result<()> {
        let polled = self.device.poll(wgpu::PollType::wait_indefinitely());
        self.check_health()?;
        polled.context("GPU device lost while waiting for work to finish")?;
        Ok(())
    }

    /// A [`GpuFault::DeviceLost`] if the device reported a loss or an error since it was opened.
    fn check_health(&self) -> Result<()> {
        match self.health.failure() {
            Some(reason) => Err(GpuFault::DeviceLost {
                adapter: self.summary.name.clone(),
                reason,
            }
            .into()),
            None => Ok(()),
        }
    }

    /// Submits recorded kernels; the one place work reaches the queue, so an injected device loss
    /// happens at a known point.
    pub fn submit(&self, encoder: GpuEncoder) {
        self.queue.submit([encoder.finish()]);
        let submitted = self.submits.fetch_add(1, Ordering::Relaxed) + 1;
        if self.injected == Some(InjectedFault::DeviceLost) && submitted == LOST_AFTER_SUBMITS {
            self.device.destroy();
        }
    }

    /// Creates a buffer under an out-of-memory error scope, so that a device without room gives a
    /// [`GpuFault::OutOfMemory`] naming `what` instead of wgpu's default panic.
    fn allocate(
        &self,
        what: &str,
        contents: Contents,
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let (buffer, bytes) = match contents {
            Contents::Bytes(bytes) => (
                self.device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(what),
                        contents: bytes,
                        usage,
                    }),
                bytes.len() as u64,
            ),
            Contents::Zeroed(size) => (
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(what),
                    size,
                    usage,
                    mapped_at_creation: false,
                }),
                size,
            ),
        };
        let failed = pollster::block_on(scope.pop()).is_some();
        if failed || self.injected == Some(InjectedFault::OutOfMemory) {
            return Err(GpuFault::OutOfMemory {
                adapter: self.summary.name.clone(),
                what: what.to_owned(),
                bytes,
            }
            .into());
        }
        Ok(buffer)
    }

    /// Records a copy of `from` into `to`.
    pub fn record_copy(
        &self,
        encoder: &mut GpuEncoder,
        from: &GpuVolume,
        to: &GpuVolume,
    ) -> Result<()> {
        if from.voxel_count != to.voxel_count {
            bail!(
                "cannot copy {} voxels into {}",
                from.voxel_count,
                to.voxel_count
            );
        }
        encoder.copy_buffer_to_buffer(&from.buffer, 0, &to.buffer, 0, from.buffer.size());
        Ok(())
    }

    /// Records `steps` diffusion steps ping-ponging between `a` (the input) and `b`, in one compute
    /// pass; the result ends in `b` when `steps` is odd.
    pub fn record_diffusion_steps(
        &self,
        encoder: &mut GpuEncoder,
        shape: [usize; 3],
        beta: f32,
        [a, b]: [&GpuVolume; 2],
        steps: u64,
    ) -> Result<()> {
        let [n_k, n_i, n_j] = shape.map(|n| n as u32);
        if a.voxel_count != n_k * n_i * n_j || b.voxel_count != a.voxel_count {
            bail!("diffusion fields do not match the grid {shape:?}");
        }
        let groups = [n_j.div_ceil(ROW_GROUP), n_i, n_k];
        let max_groups = self.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max_groups) {
            return Err(GpuFault::TooLarge {
                what: format!(
                    "grid {shape:?} needs {groups:?} workgroups; adapter {} allows {max_groups} per dimension",
                    self.summary.name
                ),
            }
            .into());
        }
        let params = DiffusionParams {
            grid: Grid::new([n_k, n_i, n_j]),
            beta,
            padding: [0; 3],
        };
        let params = self.uniform("diffusion params", &params);
        let forward = self.bind(
            self.pipeline(Shader::Diffusion),
            &[&a.buffer, &b.buffer, &params],
        );
        let backward = self.bind(
            self.pipeline(Shader::Diffusion),
            &[&b.buffer, &a.buffer, &params],
        );
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(self.pipeline(Shader::Diffusion));
        for step in 0..steps {
            let bind_group = if step % 2 == 0 { &forward } else { &backward };
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        Ok(())
    }

    /// Copies a tilt geometry to the device, checking the dispatch sizes it implies.
    pub fn upload_geometry(&self, rays: &[Ray], params: &ProjectorParams) -> Result<GpuGeometry> {
        let max_groups = self.limits.max_compute_workgroups_per_dimension;
        let largest = [
            params.n_det.div_ceil(PROJECTOR_ROW_GROUP),
            params.grid.n_j.div_ceil(PROJECTOR_ROW_GROUP),
            params.grid.n_i,
            params.grid.n_k,
            params.n_angles,
        ];
        if largest.iter().any(|&g| g > max_groups) {
            return Err(GpuFault::TooLarge {
                what: format!(
                    "projection of {} x {} x {} voxels at {} angles needs more than {max_groups} workgroups per dimension (adapter {})",
                    params.grid.n_k,
                    params.grid.n_i,
                    params.grid.n_j,
                    params.n_angles,
                    self.summary.name
                ),
            }
            .into());
        }
        let rays = self.allocate(
            "rays",
            Contents::Bytes(bytemuck::cast_slice(rays)),
            wgpu::BufferUsages::STORAGE,
        )?;
        let params_buffer = self.uniform("projector params", params);
        Ok(GpuGeometry {
            rays,
            params_buffer,
            params: *params,
        })
    }

    /// A zeroed buffer of `len` samples on the device.
    pub fn zeros(&self, len: usize) -> Result<GpuVolume> {
        let voxel_count = Self::voxel_count("buffer", len)?;
        self.check_fits("buffer", len as u64 * 4)?;
        let buffer = self.allocate(
            "field",
            Contents::Zeroed(len as u64 * 4),
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        )?;
        Ok(GpuVolume {
            buffer,
            voxel_count,
        })
    }

    /// A command encoder for kernels recorded with the `record_*` methods.
    pub fn encoder(&self) -> GpuEncoder {
        self.device.create_command_encoder(&Default::default())
    }

    fn record(
        &self,
        encoder: &mut GpuEncoder,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) {
        let bind_group = self.bind(pipeline, buffers);
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }

    /// Records series = A volume.
    pub fn record_forward_project(
        &self,
        encoder: &mut GpuEncoder,
        geometry: &GpuGeometry,
        volume: &GpuVolume,
        series: &GpuVolume,
    ) {
        let p = &geometry.params;
        let groups = [
            p.n_det.div_ceil(PROJECTOR_ROW_GROUP),
            p.grid.n_k,
            p.n_angles,
        ];
        let buffers = [
            &volume.buffer,
            &geometry.rays,
            &series.buffer,
            &geometry.params_buffer,
        ];
        self.record(
            encoder,
            self.pipeline(Shader::ForwardProject),
            &buffers,
            groups,
        );
    }

    /// Records volume = Aᵀ series.
    pub fn record_back_project(
        &self,
        encoder: &mut GpuEncoder,
        geometry: &GpuGeometry,
        series: &GpuVolume,
        volume: &GpuVolume,
    ) {
        let p = &geometry.params;
        let groups = [
            p.grid.n_j.div_ceil(PROJECTOR_ROW_GROUP),
            p.grid.n_i,
            p.grid.n_k,
        ];
        let buffers = [
            &series.buffer,
            &geometry.rays,
            &volume.buffer,
            &geometry.params_buffer,
        ];
        self.record(
            encoder,
            self.pipeline(Shader::BackProject),
            &buffers,
            groups,
        );
    }

    /// Records residual = measured − projected and weighted = row_weights ⊙ residual.
    pub fn record_sirt_residual(
        &self,
        encoder: &mut GpuEncoder,
        [measured, projected, row_weights, residual, weighted]: [&GpuVolume; 5],
    ) {
        let (per_row, rows) = groups_2d(measured.voxel_count, ELEMENTWISE_GROUP);
        let params = self.uniform("sirt residual params", &[measured.voxel_count, per_row]);
        let buffers = [
            &measured.buffer,
            &projected.buffer,
            &row_weights.buffer,
            &residual.buffer,
            &weighted.buffer,
            &params,
        ];
        self.record(
            encoder,
            self.pipeline(Shader::SirtResidual),
            &buffers,
            [per_row, rows, 1],
        );
    }

    /// Records volume ← clamp(volume + λ·column_weights ⊙ back_projected) inside the mask.
    pub fn record_sirt_update(
        &self,
        encoder: &mut GpuEncoder,
        [volume, back_projected, column_weights]: [&GpuVolume; 3],
        mask: &GpuMask,
        update: &SirtUpdateParams,
    ) {
        let (per_row, rows) = groups_2d(volume.voxel_count, ELEMENTWISE_GROUP);
        let params = SirtUpdateParams {
            len: volume.voxel_count,
            groups_per_row: per_row,
            ..*update
        };
        let params = self.uniform("sirt update params", &params);
        let buffers = [
            &volume.buffer,
            &back_projected.buffer,
            &column_weights.buffer,
            &mask.buffer,
            &params,
        ];
        self.record(
            encoder,
            self.pipeline(Shader::SirtUpdate),
            &buffers,
            [per_row, rows, 1],
        );
    }

    /// A uniform buffer holding `value`, made once per distinct value.
    fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        let bytes = bytemuck::bytes_of(value);
        // A poisoned lock only means another thread panicked mid-insert; the map is still whole.
        let mut uniforms = self
            .uniforms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(buffer) = uniforms.get(bytes) {
            return buffer.clone();
        }
        if uniforms.len() >= MAX_CACHED_UNIFORMS {
            uniforms.clear();
        }
        let buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            });
        uniforms.insert(bytes.to_vec(), buffer.clone());
        buffer
    }

    /// Queue submits so far: long runs should cost few (tests/gpu_submits.rs counts them).
    pub fn submits(&self) -> usize {
        self.submits.load(Ordering::Relaxed)
    }

    /// Records filling `buffer` with zeros.
    pub fn record_clear(&self, encoder: &mut GpuEncoder, buffer: &GpuVolume) {
        encoder.clear_buffer(&buffer.buffer, 0, None);
    }

    /// Records intensity = M·(1 + (r − 1)·C) on the full grid from a cropped, marked field.
    pub fn record_intensity(
        &self,
        encoder: &mut GpuEncoder,
        field: &GpuVolume,
        params: &IntensityParams,
        intensity: &GpuVolume,
    ) {
        let groups = [
            params.grid.n_j.div_ceil(ROW_GROUP),
            params.grid.n_i,
            params.grid.n_k,
        ];
        let uniform = self.uniform("intensity params", params);
        let buffers = [&field.buffer, &intensity.buffer, &uniform];
        self.record(encoder, self.pipeline(Shader::Intensity), &buffers, groups);
    }

    /// Records one separable blur pass along `params.axis`.
    pub fn record_blur_pass(
        &self,
        encoder: &mut GpuEncoder,
        input: &GpuVolume,
        taps: &GpuVolume,
        params: &BlurParams,
        output: &GpuVolume,
    ) {
        let groups = [
            params.grid.n_j.div_ceil(ROW_GROUP),
            params.grid.n_i,
            params.grid.n_k,
        ];
        let uniform = self.uniform("blur params", params);
        let buffers = [&input.buffer, &taps.buffer, &output.buffer, &uniform];
        self.record(encoder, self.pipeline(Shader::Blur), &buffers, groups);
    }

    /// Records series ← series + sqrt(series/λ)·normal.
    pub fn record_smooth_noise(
        &self,
        encoder: &mut GpuEncoder,
        series: &GpuVolume,
        normal: &GpuVolume,
        inverse_dose: f32,
    ) {
        let (per_row, rows) = groups_2d(series.voxel_count, ELEMENTWISE_GROUP);
        let params = SmoothNoiseParams {
            len: series.voxel_count,
            groups_per_row: per_row,
            inverse_dose,
            padding: 0,
        };
        let uniform = self.uniform("smooth noise params", &params);
        let buffers = [&series.buffer, &normal.buffer, &uniform];
        self.record(
            encoder,
            self.pipeline(Shader::SmoothNoise),
            &buffers,
            [per_row, rows, 1],
        );
    }

    /// Copies mask bits (as [`Mask::to_bits`]) of `voxels` voxels to the device.
    pub fn upload_bits(&self, bits: &[u32], voxels: usize) -> Result<GpuMask> {
        let voxel_count = Self::voxel_count("mask", voxels)?;
        let buffer = self.allocate(
            "mask bits",
            Contents::Bytes(bytemuck::cast_slice(bits)),
            wgpu::BufferUsages::STORAGE,
        )?;
        Ok(GpuMask {
            buffer,
            voxel_count,
        })
    }

    /// Submits `encoder` with the moments of `values` inside each of `masks` recorded after its
    /// work, in one submit: count, sum and sum of squares, read back as one partial per 256 voxels.
    pub fn masked_moments(
        &self,
        mut encoder: GpuEncoder,
        values: &GpuVolume,
        masks: &[&GpuMask],
    ) -> Result<Vec<Moments>> {
        if let Some(mask) = masks.iter().find(|m| m.voxel_count != values.voxel_count) {
            bail!(
                "volume has {} voxels but mask has {}",
                values.voxel_count,
                mask.voxel_count
            );
        }
        let (groups_per_row, rows) = groups_2d(values.voxel_count, WORKGROUP_SIZE as u32);
        let partial_bytes = u64::from(groups_per_row * rows) * 16;
        let params = self.uniform("moment params", &[values.voxel_count, groups_per_row]);
        let mut partials = Vec::with_capacity(masks.len());
        for mask in masks {
            let buffer = self.allocate(
                "moment partials",
                Contents::Zeroed(partial_bytes),
                wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            )?;
            self.record(
                &mut encoder,
                self.pipeline(Shader::MaskedMoments),
                &[&values.buffer, &mask.buffer, &buffer, &params],
                [groups_per_row, rows, 1],
            );
            partials.push(buffer);
        }
        let sources: Vec<&wgpu::Buffer> = partials.iter().collect();
        Ok(self
            .read_back_all(encoder, &sources)?
            .iter()
            .map(|raw| {
                let vec4s: &[[f32; 4]] = bytemuck::cast_slice(raw);
                Moments::from_partials(vec4s.iter().map(|p| [p[0], p[1], p[2]]))
            })
            .collect())
    }

    /// A bind group with `buffers` at bindings 0, 1, 2, … of group 0.
    fn bind(&self, pipeline: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding: binding as u32,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Submits `encoder` with a copy of `source` into a mappable buffer, waits, returns the bytes.
    fn read_back(&self, encoder: GpuEncoder, source: &wgpu::Buffer) -> Result<Vec<u8>> {
        let mut all = self.read_back_all(encoder, &[source])?;
        Ok(all.pop().expect("one source read"))
    }

    /// Submits `encoder` with copies of every one of `sources` into one mappable buffer, waits,
    /// returns each source's bytes.
    fn read_back_all(
        &self,
        mut encoder: GpuEncoder,
        sources: &[&wgpu::Buffer],
    ) -> Result<Vec<Vec<u8>>> {
        let total: u64 = sources.iter().map(|s| s.size()).sum();
        let staging = self.allocate(
            "readback",
            Contents::Zeroed(total),
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let mut offset = 0;
        for source in sources {
            encoder.copy_buffer_to_buffer(source, 0, &staging, offset, source.size());
            offset += source.size();
        }
        self.submit(encoder);
        let (sender, receiver) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            // The receiver outlives the poll below, so a failed send cannot happen.
            let _ = sender.send(result);
        });
        let polled = self.device.poll(wgpu::PollType::wait_indefinitely());
        let mapped = receiver.recv();
        self.check_health()?;
        polled.context("GPU device lost while waiting for results")?;
        mapped
            .context("GPU readback never completed")?
            .context("cannot map the GPU readback buffer")?;
        let bytes = staging
            .get_mapped_range(..)
            .context("cannot read the mapped GPU buffer")?
            .to_vec();
        staging.unmap();
        let mut start = 0;
        Ok(sources
            .iter()
            .map(|source| {
                let end = start + source.size() as usize;
                let part = bytes[start..end].to_vec();
                start = end;
                part
            })
            .collect())
    }
}

/// A 2D dispatch of `len` elements in workgroups of `group_size`: (groups per row, rows). One
/// dimension holds at most [`MAX_GROUPS_PER_DIMENSION`] workgroups; the shaders rebuild the linear
/// index from the row length they are given.
fn groups_2d(len: u32, group_size: u32) -> (u32, u32) {
    let groups = len.div_ceil(group_size).max(1);
    let per_row = groups.min(MAX_GROUPS_PER_DIMENSION);
    (per_row, groups.div_ceil(per_row))
}

/// What a new buffer starts with.
enum Contents<'a> {
    Bytes(&'a [u8]),
    Zeroed(u64),
}
