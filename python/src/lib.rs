//! The native half of the `alloyfit` Python module: each function takes arrays already checked
//! and converted by the Python half (python/alloyfit/__init__.py: float32 or bool, C order, the
//! right number of dimensions), runs the library with the GIL released, and hands back NumPy
//! arrays or JSON text. Errors carry the command line's messages; a Ctrl-C or an exception in a
//! progress callback stops the work at its next progress step and is raised as it was.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ndarray::{Array3, Array4, Axis};
use numpy::{IntoPyArray, PyArray3, PyArray4, PyReadonlyArray3};
use pyo3::create_exception;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use alloyfit::backend::gpu::list_adapters;
use alloyfit::backend::{Backend, DeviceChoice, DeviceRequest, Engine};
use alloyfit::diffusion::{check_beta, prepare_mask};
use alloyfit::experiment::{Defaults, FitMode, LoadedExperiment};
use alloyfit::io::{Overwrite, StagedDir};
use alloyfit::phantom::shapes::Shape;
use alloyfit::phantom::{Particle, PhantomOptions, find_particle, voxelize};
use alloyfit::progress::{Interrupted, Progress};
use alloyfit::tomography::sirt::{SirtOptions, reconstruct_series};
use alloyfit::tomography::{TiltGeometry, forward_project};
use alloyfit::workflow::fit::{fit_experiment, fit_into};
use alloyfit::workflow::simulate::diffuse_through_times;
use alloyfit::{Mask, Volume};

create_exception!(
    _alloyfit,
    AlloyfitError,
    PyRuntimeError,
    "alloyfit refused or failed: the message is the command line's."
);

/// Reports to an optional Python callable `progress(kind, text, done, total)`, kind being
/// "line", "warning" or "step"; checks for Ctrl-C at every step.
struct PyProgress {
    callback: Option<Py<PyAny>>,
    /// The first exception a callback or a signal handler raised: the work stops at the next step
    /// and the exception is raised instead of the work's result.
    raised: Option<PyErr>,
}

impl PyProgress {
    fn new(callback: Option<Py<PyAny>>) -> PyProgress {
        PyProgress {
            callback,
            raised: None,
        }
    }

    fn call(&mut self, kind: &str, text: &str, done: usize, total: usize) {
        if self.raised.is_some() {
            return;
        }
        let Some(callback) = &self.callback else {
            return;
        };
        let raised = Python::attach(|py| callback.call1(py, (kind, text, done, total)).err());
        self.raised = raised;
    }
}

impl Progress for PyProgress {
    fn line(&mut self, text: &str) {
        self.call("line", text, 0, 0);
    }

    fn warn(&mut self, text: &str) {
        self.call("warning", text, 0, 0);
    }

    fn step(&mut self, stage: &str, done: usize, total: usize) -> Result<(), Interrupted> {
        if self.raised.is_none() {
            self.raised = Python::attach(|py| py.check_signals().err());
        }
        self.call("step", stage, done, total);
        match self.raised {
            Some(_) => Err(Interrupted),
            None => Ok(()),
        }
    }
}

/// `device` ("auto", "gpu", "cpu") and an adapter-name filter as the library's request.
fn device_request(device: &str, adapter: Option<String>) -> PyResult<DeviceRequest> {
    let choice = match device {
        "auto" => DeviceChoice::Auto,
        "gpu" => DeviceChoice::Gpu,
        "cpu" => DeviceChoice::Cpu,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "device must be 'auto', 'gpu' or 'cpu', got '{other}'"
            )));
        }
    };
    Ok(DeviceRequest { choice, adapter })
}

/// Runs `work` on the backend `request` asks for with the GIL released, falling back to the CPU
/// under auto as the command line does.
fn run_on_device<T: Send>(
    py: Python<'_>,
    request: DeviceRequest,
    progress: Option<Py<PyAny>>,
    mut work: impl FnMut(&Backend, &mut PyProgress) -> anyhow::Result<T> + Send,
) -> PyResult<T> {
    let (result, raised) = py.detach(move || {
        let mut progress = PyProgress::new(progress);
        let result = Engine::open(&request, &mut progress)
            .and_then(|mut engine| engine.run(&mut progress, &mut work));
        (result, progress.raised)
    });
    match (result, raised) {
        (_, Some(raised)) => Err(raised),
        (Ok(value), None) => Ok(value),
        (Err(error), None) => Err(to_py_error(&error)),
    }
}

/// The error as the command line prints it (its whole context chain), or KeyboardInterrupt for
/// a stop that came from a signal handled outside a progress step.
fn to_py_error(error: &anyhow::Error) -> PyErr {
    if error.downcast_ref::<Interrupted>().is_some() {
        return pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted");
    }
    AlloyfitError::new_err(format!("{error:#}"))
}

/// A library result as a Python one, its error raised by [`to_py_error`].
trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E: Into<anyhow::Error>> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|error| to_py_error(&error.into()))
    }
}

fn volume_from(array: PyReadonlyArray3<'_, f32>, voxel_nm: f64, name: &str) -> PyResult<Volume> {
    Volume::new(array.as_array().to_owned(), voxel_nm)
        .with_context(|| name.to_owned())
        .or_raise()
}

/// An experiment given as a dict, passed here as JSON: checked as if it were its TOML file in
/// `base_dir`.
fn experiment_from_json(json: &str, base_dir: PathBuf) -> PyResult<LoadedExperiment> {
    let parsed = (|| -> anyhow::Result<LoadedExperiment> {
        let table: toml::Table =
            serde_json::from_str(json).context("the experiment dict is not a TOML table")?;
        let text = toml::to_string(&table).context("the experiment dict is not a TOML table")?;
        LoadedExperiment::from_text(
            &text,
            Path::new("<experiment dict>"),
            &base_dir,
            &Defaults::default(),
        )
    })();
    parsed.or_raise()
}

/// The voxelised particle: (Au fraction, mask), float32 and bool, [k][i][j].
#[pyfunction]
#[pyo3(signature = (name, voxel_nm, pad_voxels, shell, core))]
#[allow(clippy::type_complexity)]
fn phantom<'py>(
    py: Python<'py>,
    name: &str,
    voxel_nm: f64,
    pad_voxels: usize,
    shell: Option<&str>,
    core: Option<&str>,
) -> PyResult<(Bound<'py, PyArray3<f32>>, Bound<'py, PyArray3<bool>>)> {
    let phantom = (|| -> anyhow::Result<_> {
        let particle = match (shell, core) {
            (Some(shell), Some(core)) => Particle::custom(
                Shape::parse(shell).context("shell")?,
                Shape::parse(core).context("core")?,
            ),
            (None, None) => find_particle(name)?,
            _ => anyhow::bail!("a custom particle needs both shell and core"),
        };
        voxelize(
            &particle,
            &PhantomOptions {
                voxel_nm,
                pad_voxels,
                ..PhantomOptions::default()
            },
        )
    })()
    .or_raise()?;
    Ok((
        phantom.composition.into_data().into_pyarray(py),
        phantom.mask.data().clone().into_pyarray(py),
    ))
}

/// The composition at each of `times_s`: float32, [t][k][i][j].
#[pyfunction]
#[pyo3(signature = (c0, mask, d_m2s, times_s, voxel_nm, beta, device, adapter, progress))]
#[allow(clippy::too_many_arguments)]
fn simulate<'py>(
    py: Python<'py>,
    c0: PyReadonlyArray3<'py, f32>,
    mask: PyReadonlyArray3<'py, bool>,
    d_m2s: f64,
    times_s: Vec<f64>,
    voxel_nm: f64,
    beta: f64,
    device: &str,
    adapter: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyArray4<f32>>> {
    let composition = volume_from(c0, voxel_nm, "c0")?;
    let mask = Mask::new(mask.as_array().to_owned(), voxel_nm)
        .context("mask")
        .or_raise()?;
    check_beta(beta).context("beta").or_raise()?;
    let start = prepare_mask(&composition, &mask, None)
        .context("c0 with mask")
        .or_raise()?;
    let shape = composition.shape();
    let request = device_request(device, adapter)?;
    let volumes = run_on_device(py, request, progress, |backend, progress| {
        let mut volumes = Array4::zeros((times_s.len(), shape[0], shape[1], shape[2]));
        let mut index = 0;
        diffuse_through_times(
            &start,
            d_m2s,
            &times_s,
            beta,
            backend,
            progress,
            &mut |_, volume| {
                volumes.index_axis_mut(Axis(0), index).assign(volume.data());
                index += 1;
                Ok(())
            },
        )?;
        Ok(volumes)
    })?;
    Ok(volumes.into_pyarray(py))
}

/// The tilt series of `volume`: float32, [angle][k][m].
#[pyfunction]
#[pyo3(signature = (volume, angles_deg, n_det, device, adapter, progress))]
fn project<'py>(
    py: Python<'py>,
    volume: PyReadonlyArray3<'py, f32>,
    angles_deg: Vec<f64>,
    n_det: Option<usize>,
    device: &str,
    adapter: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let volume = volume_from(volume, 1.0, "volume")?;
    let n_det = n_det.unwrap_or(volume.shape()[2]);
    let geometry = TiltGeometry::new(angles_deg, n_det, 1.0).or_raise()?;
    let request = device_request(device, adapter)?;
    let series = run_on_device(py, request, progress, |backend, _| {
        forward_project(backend, &volume, &geometry)
    })?;
    Ok(series.into_pyarray(py))
}

/// SIRT of `series` ([angle][k][m]) onto square slices as wide as its detector: float32,
/// [k][i][j].
#[pyfunction]
#[pyo3(signature = (series, angles_deg, iterations, relaxation, min_value, max_value, mask, device, adapter, progress))]
#[allow(clippy::too_many_arguments)]
fn sirt<'py>(
    py: Python<'py>,
    series: PyReadonlyArray3<'py, f32>,
    angles_deg: Vec<f64>,
    iterations: usize,
    relaxation: f32,
    min_value: Option<f32>,
    max_value: Option<f32>,
    mask: Option<PyReadonlyArray3<'py, bool>>,
    device: &str,
    adapter: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let series: Array3<f32> = series.as_array().to_owned();
    let mask = match mask {
        Some(mask) => Some(
            Mask::new(mask.as_array().to_owned(), 1.0)
                .context("mask")
                .or_raise()?,
        ),
        None => None,
    };
    let options = SirtOptions {
        iterations,
        relaxation,
        min_value,
        max_value,
        mask,
        record_residuals: false,
    };
    let request = device_request(device, adapter)?;
    let reconstruction = run_on_device(py, request, progress, |backend, progress| {
        reconstruct_series(backend, &series, &angles_deg, 1.0, &options, &mut |n| {
            progress.step("SIRT iterations", n, iterations)
        })
    })?;
    Ok(reconstruction.volume.into_data().into_pyarray(py))
}

/// An experiment from a TOML file (`path`) or a dict given as JSON (`json`, paths relative to
/// `base_dir`).
fn load_experiment(
    path: Option<PathBuf>,
    json: Option<&str>,
    base_dir: PathBuf,
) -> PyResult<LoadedExperiment> {
    match (path, json) {
        (Some(path), None) => LoadedExperiment::load(&path).or_raise(),
        (None, Some(json)) => experiment_from_json(json, base_dir),
        _ => Err(pyo3::exceptions::PyValueError::new_err(
            "give an experiment file or an experiment dict, not both",
        )),
    }
}

/// The measured alloying curve of an experiment, as quantify.json's JSON.
#[pyfunction]
#[pyo3(signature = (path, json, base_dir, device, adapter, progress))]
fn quantify(
    py: Python<'_>,
    path: Option<PathBuf>,
    json: Option<&str>,
    base_dir: PathBuf,
    device: &str,
    adapter: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let loaded = load_experiment(path, json, base_dir)?;
    let request = device_request(device, adapter)?;
    let quantification = run_on_device(py, request, progress, |backend, progress| {
        let (_, quantified, _) =
            alloyfit::analysis::prepare_experiment(backend, &loaded, progress)?;
        Ok(quantified.quantification)
    })?;
    serde_json::to_string(&quantification).or_raise()
}

/// Fits an experiment; report.json's JSON. With `out`, writes the report folder as
/// `alloyfit fit --out` does (refusing a non-empty folder unless `force`).
#[pyfunction]
#[pyo3(signature = (path, json, base_dir, out, force, mode, table_points, device, adapter, progress))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    path: Option<PathBuf>,
    json: Option<&str>,
    base_dir: PathBuf,
    out: Option<PathBuf>,
    force: bool,
    mode: Option<&str>,
    table_points: usize,
    device: &str,
    adapter: Option<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(String, Option<PathBuf>)> {
    let mut loaded = load_experiment(path, json, base_dir)?;
    match mode {
        None => {}
        Some("table") => loaded.experiment.fit.mode = FitMode::Table,
        Some("exact") => loaded.experiment.fit.mode = FitMode::Exact,
        Some(other) => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "mode must be 'table' or 'exact', got '{other}'"
            )));
        }
    }
    let overwrite = if force {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    let staged = match &out {
        Some(target) => Some(StagedDir::create(target, overwrite).or_raise()?),
        None => None,
    };
    let request = device_request(device, adapter)?;
    let report = run_on_device(py, request, progress, |backend, progress| match &staged {
        Some(staged) => fit_into(&loaded, backend, table_points, staged, progress),
        None => Ok(fit_experiment(&loaded, backend, table_points, false, progress)?.report),
    })?;
    let written = match staged {
        Some(staged) => Some(staged.commit().or_raise()?),
        None => None,
    };
    let json = report.to_json().or_raise()?;
    Ok((json, written))
}

/// The GPU adapters wgpu finds and the backend `device` would pick, as `alloyfit devices --json`.
#[pyfunction]
#[pyo3(signature = (device, adapter))]
fn devices(py: Python<'_>, device: &str, adapter: Option<String>) -> PyResult<String> {
    let request = device_request(device, adapter)?;
    let (adapters, selected) = py.detach(move || {
        let selected = Engine::open(&request, &mut alloyfit::progress::Silent)
            .map(|engine| engine.backend().describe());
        (list_adapters(), selected)
    });
    let selected = selected.or_raise()?;
    let value = serde_json::json!({ "adapters": adapters, "selected": selected });
    Ok(value.to_string())
}

#[pymodule]
fn _alloyfit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AlloyfitError", m.py().get_type::<AlloyfitError>())?;
    m.add("TABLE_POINTS_DEFAULT", alloyfit::fit::TABLE_POINTS_DEFAULT)?;
    m.add("BETA_DEFAULT", alloyfit::diffusion::BETA_DEFAULT)?;
    m.add("SIRT_ITERATIONS_DEFAULT", SirtOptions::default().iterations)?;
    m.add("PAD_VOXELS_DEFAULT", PhantomOptions::default().pad_voxels)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(phantom, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(project, m)?)?;
    m.add_function(wrap_pyfunction!(sirt, m)?)?;
    m.add_function(wrap_pyfunction!(quantify, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    Ok(())
}
