//! The experiment description (TOML) that `quantify` and `fit` read: the particle, the data (one
//! reconstruction per time, or a measured curve), the imaging parameters of the simulated
//! acquisition, and the fit's settings. Every key is documented in README.md; unknown keys and
//! wrong types are errors that name the key. Paths are relative to the file's folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::imaging::quantify::START_MASK_SMOOTHING_VOXELS;
use crate::imaging::{CONTRAST_RATIO_DEFAULT, ImagingParams};
use crate::io::tilts::{parse_tilt_spec, read_tilt_file};

/// The default heating times of the paper, s.
pub const DEFAULT_TIMES_S: [f64; 10] = [
    0.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];

/// A batch manifest's defaults: keys filled into every experiment's `[imaging]` and `[fit]` where
/// its own file leaves them out.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub imaging: toml::Table,
    #[serde(default)]
    pub fit: toml::Table,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub particle: ParticleSection,
    pub data: DataSection,
    #[serde(default)]
    pub imaging: ImagingSection,
    #[serde(default)]
    pub fit: FitSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticleSection {
    /// A name for reports; with a measured curve it must name a phantom (`alloyfit phantom
    /// --list`).
    pub name: String,
    pub voxel_nm: f64,
    /// Mean Au fraction (Table 1 / EDX), in [0, 1].
    pub mean_au_fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    pub times_s: Vec<f64>,
    /// One reconstruction per time (TIFF or MRC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconstructions: Option<Vec<PathBuf>>,
    /// Or one tilt series per time (TIFF or MRC, `[angle][k][m]`, at the angles of
    /// `imaging.tilts`), which alloyfit reconstructs with the SIRT the simulation runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilt_series: Option<Vec<PathBuf>>,
    /// Or a measured curve: CSV with columns t_s and alpha.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<PathBuf>,
    /// A reconstruction of the fully alloyed particle to measure the noise on (docs/METHOD.md
    /// §4.5); default: the last of `reconstructions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_reconstruction: Option<PathBuf>,
    /// The particle mask to simulate in, instead of the t = 0 segmentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<PathBuf>,
    /// A mask that replaces the particle mask for the simulation (docs/METHOD.md §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reshaped_mask: Option<PathBuf>,
    /// Measure spreads (in the reconstructions and in the simulations alike) this many voxels in
    /// from the particle's surface; the simulation still runs in the whole particle.
    #[serde(default)]
    pub erosion_voxels: usize,
    /// How the t = 0 reconstruction becomes the simulation's initial composition.
    #[serde(default)]
    pub initial_state: InitialState,
    /// How the t = 0 reconstruction becomes the particle mask (unless `mask` gives one).
    #[serde(default)]
    pub start_mask: StartMask,
    /// Where the smoothed and fitted rules cut the particle's surface, as a fraction of the
    /// segmentation's half-height threshold: above 1 shrinks the mask, below 1 grows it. The fitted
    /// rule searches it ([`crate::fit::start_level`]); commands that do not fit use it as given.
    #[serde(default = "unit_start_level")]
    pub start_level: f64,
    /// The Gaussian sigma, in voxels, with which the smoothed and fitted rules smooth the t = 0
    /// reconstruction before they cut it. The fitted rule also fits with this ±
    /// [`START_SMOOTHING_STEP_VOXELS`] to measure what the width does to D
    /// ([`crate::fit::start_level`]).
    #[serde(default = "default_start_smoothing")]
    pub start_smoothing_voxels: f64,
}

impl DataSection {
    /// Whether `start_mask` applies: the mask comes from the t = 0 reconstruction, not from a
    /// `mask` file or a phantom (for a measured curve).
    pub fn start_mask_applies(&self) -> bool {
        self.measured_files().is_some() && self.mask.is_none()
    }

    /// The files measured at the times, one per time, and what they hold: reconstructions or tilt
    /// series (None for a measured curve).
    pub fn measured_files(&self) -> Option<(MeasuredFiles, &[PathBuf])> {
        match (&self.reconstructions, &self.tilt_series) {
            (Some(files), _) => Some((MeasuredFiles::Reconstructions, files)),
            (None, Some(files)) => Some((MeasuredFiles::TiltSeries, files)),
            (None, None) => None,
        }
    }
}

/// What an experiment's files hold at each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasuredFiles {
    Reconstructions,
    /// Tilt series, which alloyfit reconstructs.
    TiltSeries,
}

impl MeasuredFiles {
    /// The experiment file's key that lists the files.
    pub fn key(self) -> &'static str {
        match self {
            MeasuredFiles::Reconstructions => "data.reconstructions",
            MeasuredFiles::TiltSeries => "data.tilt_series",
        }
    }
}

fn unit_start_level() -> f64 {
    1.0
}

fn default_start_smoothing() -> f64 {
    START_MASK_SMOOTHING_VOXELS
}

/// The range of `data.start_smoothing_voxels`: below half a voxel the noise roughens the mask's
/// surface (the MSE of NC1 at 2 nm grows 3-fold from 0.55 to 0.45 voxel), above 1.5 voxels the
/// smoothing rounds a 2 nm cube's edges by more than a voxel.
pub const START_SMOOTHING_MIN_VOXELS: f64 = 0.5;
pub const START_SMOOTHING_MAX_VOXELS: f64 = 1.5;
/// The fitted rule's widths either side of `data.start_smoothing_voxels`.
pub const START_SMOOTHING_STEP_VOXELS: f64 = 0.15;

/// The range of `data.start_level`, and of the fitted rule's search: on NC1 at 2 nm ±20% of the
/// threshold changes the mask by ±7% and D by −20 to +25%, and multiplies the MSE 200–500-fold, far
/// past any fit's optimum (docs/PERFORMANCE.md, "The fitted start level").
pub const START_LEVEL_MIN: f64 = 0.8;
pub const START_LEVEL_MAX: f64 = 1.2;

/// How the particle mask is segmented from the t = 0 reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartMask {
    /// The reconstruction as measured.
    Segmented,
    /// The reconstruction after a Gaussian of `data.start_smoothing_voxels`, which keeps the noise
    /// from roughening the mask's surface, cut at `data.start_level`.
    Smoothed,
    /// The smoothed rule with the surface level fitted along with D: the level whose start state
    /// fits the measured curve best, its uncertainty carried into the SD of D.
    #[default]
    Fitted,
}

impl StartMask {
    /// The other rule, which the start check fits with; the fitted rule has no check, its level's
    /// error is in the SD.
    pub fn other(self) -> Option<StartMask> {
        match self {
            StartMask::Segmented => Some(StartMask::Smoothed),
            StartMask::Smoothed => Some(StartMask::Segmented),
            StartMask::Fitted => None,
        }
    }

    /// What the rule does to the t = 0 reconstruction, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            StartMask::Segmented => "segmented as measured",
            StartMask::Smoothed => "smoothed before it is segmented",
            StartMask::Fitted => "smoothed and cut at the fitted surface level",
        }
    }
}

/// The simulation's initial composition from the t = 0 reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitialState {
    /// The two-phase state whose simulated t = 0 reconstruction matches the measured one
    /// ([`crate::imaging::start_state`]): the core the reconstruction's blur and missing wedge
    /// dimmed and rounded, sharpened again. Two extra chain runs.
    #[default]
    Matched,
    /// The composition map made two-phase (Au 1, Ag 0) with the known mean: sharp interfaces, as a
    /// core-shell particle has before heating.
    TwoPhase,
    /// The composition map itself, as measured (smeared by the imaging).
    Map,
}

/// The dose of the simulated acquisition: measured from the data, or given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DoseSetting {
    /// Counts per unit projected intensity.
    Fixed(f64),
    /// `"auto"` (calibrate on the last reconstruction) or `"none"` (no noise).
    Named(NamedDose),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamedDose {
    Auto,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagingSection {
    pub contrast_ratio: f64,
    /// Gaussian blur sigma, nm; default: one voxel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blur_sigma_nm: Option<f64>,
    /// A file of angles (IMOD .tlt) or a spec start:stop:step / a,b,c in degrees.
    pub tilts: String,
    /// Pixels of the detector the series was recorded on, one voxel wide each; default: as many
    /// as a slice is wide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector_pixels: Option<usize>,
    pub sirt_iterations: usize,
    pub dose: DoseSetting,
}

impl Default for ImagingSection {
    fn default() -> Self {
        ImagingSection {
            contrast_ratio: CONTRAST_RATIO_DEFAULT,
            blur_sigma_nm: None,
            tilts: "-70:70:2".into(),
            detector_pixels: None,
            sirt_iterations: 50,
            dose: DoseSetting::Named(NamedDose::Auto),
        }
    }
}

/// How α is normalised (docs/METHOD.md §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// S_100 from the simulated fully alloyed particle.
    Corrected,
    /// S_100 = S at the last time.
    Uncorrected,
}

/// How the fit simulates α for a D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FitMode {
    /// One trajectory imaged on a tau grid, interpolated (docs/METHOD.md §4.2).
    Table,
    /// A simulation for every D the search asks for.
    Exact,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitSection {
    pub d_min_m2s: f64,
    pub d_max_m2s: f64,
    pub correction: Correction,
    pub mode: FitMode,
    /// Seed of the simulation's fixed noise field.
    pub seed: u64,
    /// Δτ/h² of the diffusion steps.
    pub beta: f64,
    /// Fit again with the other `data.start_mask` rule and warn when D moves by more than 2 SD:
    /// the SD does not include the start state's error.
    pub start_check: bool,
}

impl Default for FitSection {
    fn default() -> Self {
        FitSection {
            d_min_m2s: 1e-21,
            d_max_m2s: 1e-16,
            correction: Correction::Corrected,
            mode: FitMode::Table,
            seed: 1,
            beta: crate::diffusion::BETA_DEFAULT,
            start_check: true,
        }
    }
}

/// An experiment with its paths resolved against the file's folder.
#[derive(Debug, Clone)]
pub struct LoadedExperiment {
    pub path: PathBuf,
    pub experiment: Experiment,
    pub dir: PathBuf,
}

impl Experiment {
    /// Parses and checks an experiment file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Experiment> {
        Experiment::parse_with_defaults(text, origin, &Defaults::default())
    }

    /// As [`Experiment::parse`], with `defaults` filled into `[imaging]` and `[fit]` where the
    /// text leaves a key out.
    pub fn parse_with_defaults(
        text: &str,
        origin: &Path,
        defaults: &Defaults,
    ) -> Result<Experiment> {
        let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: {e}", origin.display());
        let experiment: Experiment = if defaults.imaging.is_empty() && defaults.fit.is_empty() {
            toml::from_str(text).map_err(|e| fail(&e))?
        } else {
            let mut table: toml::Table = toml::from_str(text).map_err(|e| fail(&e))?;
            for (section, keys) in [("imaging", &defaults.imaging), ("fit", &defaults.fit)] {
                let entry = table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(own) = entry else {
                    return Err(fail(&format!("[{section}] must be a table")));
                };
                for (key, value) in keys {
                    own.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
            toml::Value::Table(table)
                .try_into()
                .map_err(|e| fail(&format!("with the manifest's [defaults]: {e}")))?
        };
        experiment
            .check()
            .with_context(|| format!("{}", origin.display()))?;
        Ok(experiment)
    }

    fn check(&self) -> Result<()> {
        let p = &self.particle;
        ensure!(
            p.voxel_nm.is_finite() && p.voxel_nm > 0.0,
            "particle.voxel_nm must be a positive number of nm, got {}",
            p.voxel_nm
        );
        ensure!(
            (0.0..=1.0).contains(&p.mean_au_fraction),
            "particle.mean_au_fraction must lie in [0, 1] (a fraction, not a percentage), got {}",
            p.mean_au_fraction
        );
        let d = &self.data;
        ensure!(
            d.times_s.len() >= 3,
            "data.times_s needs at least 3 times (t = 0 and two more), got {}",
            d.times_s.len()
        );
        ensure!(
            d.times_s[0] == 0.0,
            "data.times_s must start at 0 (the state before heating), got {}",
            d.times_s[0]
        );
        for pair in d.times_s.windows(2) {
            ensure!(
                pair[1] > pair[0] && pair[1].is_finite(),
                "data.times_s must increase: {} comes after {}",
                pair[1],
                pair[0]
            );
        }
        ensure!(
            (START_LEVEL_MIN..=START_LEVEL_MAX).contains(&d.start_level),
            "data.start_level must lie in [{START_LEVEL_MIN}, {START_LEVEL_MAX}] (a fraction of the half-height threshold), got {}",
            d.start_level
        );
        ensure!(
            (START_SMOOTHING_MIN_VOXELS..=START_SMOOTHING_MAX_VOXELS)
                .contains(&d.start_smoothing_voxels),
            "data.start_smoothing_voxels must lie in [{START_SMOOTHING_MIN_VOXELS}, {START_SMOOTHING_MAX_VOXELS}] (a Gaussian sigma in voxels), got {}",
            d.start_smoothing_voxels
        );
        let sources = [
            d.reconstructions.is_some(),
            d.tilt_series.is_some(),
            d.curve.is_some(),
        ];
        match sources.iter().filter(|given| **given).count() {
            1 => {}
            0 => bail!(
                "data: give reconstructions (one volume file per time), tilt_series (one tilt series per time) or curve (a CSV of t_s, alpha)"
            ),
            _ => bail!("data: give one of reconstructions, tilt_series and curve, not several"),
        }
        if let Some((measured, files)) = d.measured_files() {
            ensure!(
                files.len() == d.times_s.len(),
                "{} lists {} files for {} times in data.times_s",
                measured.key(),
                files.len(),
                d.times_s.len()
            );
        }
        let i = &self.imaging;
        ensure!(
            i.contrast_ratio.is_finite() && i.contrast_ratio > 1.0,
            "imaging.contrast_ratio (r = I_Au/I_Ag) must be above 1, got {}",
            i.contrast_ratio
        );
        if let Some(sigma) = i.blur_sigma_nm {
            ensure!(
                sigma.is_finite() && sigma >= 0.0,
                "imaging.blur_sigma_nm must be a non-negative number of nm, got {sigma}"
            );
        }
        ensure!(
            i.sirt_iterations > 0,
            "imaging.sirt_iterations must be at least 1"
        );
        ensure!(
            i.detector_pixels != Some(0),
            "imaging.detector_pixels must be at least 1 (or left out: as many as a slice is wide)"
        );
        if let DoseSetting::Fixed(dose) = i.dose {
            ensure!(
                dose.is_finite() && dose > 0.0,
                "imaging.dose must be a positive number of counts per unit projected intensity, \"auto\" or \"none\"; got {dose}"
            );
        }
        if d.curve.is_some()
            && d.noise_reconstruction.is_none()
            && i.dose == DoseSetting::Named(NamedDose::Auto)
        {
            bail!(
                "imaging.dose = \"auto\" measures the noise on a reconstruction, but data gives only a curve; set data.noise_reconstruction, or a dose (a number or \"none\")"
            );
        }
        let f = &self.fit;
        ensure!(
            f.d_min_m2s > 0.0 && f.d_max_m2s > f.d_min_m2s && f.d_max_m2s.is_finite(),
            "fit.d_min_m2s ({}) and fit.d_max_m2s ({}) must be positive with min < max",
            f.d_min_m2s,
            f.d_max_m2s
        );
        crate::diffusion::check_beta(f.beta).context("fit.beta")?;
        Ok(())
    }

    /// The chain's parameters with defaults filled in; tilt files resolve against `dir`.
    pub fn imaging_params(&self, dir: &Path) -> Result<ImagingParams> {
        let i = &self.imaging;
        let file = dir.join(&i.tilts);
        let tilt_angles_deg = if file.is_file() {
            read_tilt_file(&file)?
        } else {
            parse_tilt_spec(&i.tilts).context("imaging.tilts (neither a file nor an angle spec)")?
        };
        Ok(ImagingParams {
            contrast_ratio: i.contrast_ratio,
            blur_sigma_nm: i.blur_sigma_nm.unwrap_or(self.particle.voxel_nm),
            tilt_angles_deg,
            detector_pixels: i.detector_pixels,
            sirt_iterations: i.sirt_iterations,
            noise_seed: self.fit.seed,
        })
    }
}

impl LoadedExperiment {
    /// Reads and checks an experiment file.
    pub fn load(path: &Path) -> Result<LoadedExperiment> {
        LoadedExperiment::load_with_defaults(path, &Defaults::default())
    }

    /// Reads and checks an experiment file, filling in a manifest's defaults.
    pub fn load_with_defaults(path: &Path, defaults: &Defaults) -> Result<LoadedExperiment> {
        let text = crate::io::read_text(path, "experiment file")?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        LoadedExperiment::from_text(&text, path, &dir, defaults)
    }

    /// Checks an experiment given as TOML text rather than read from a file (the Python module's
    /// dicts): `source` names it in messages, and its relative data paths resolve against `dir`.
    pub fn from_text(
        text: &str,
        source: &Path,
        dir: &Path,
        defaults: &Defaults,
    ) -> Result<LoadedExperiment> {
        let experiment = Experiment::parse_with_defaults(text, source, defaults)?;
        Ok(LoadedExperiment {
            path: source.to_path_buf(),
            experiment,
            dir: dir.to_path_buf(),
        })
    }

    /// Checks that every data file the experiment names exists, so that a batch fails before it
    /// starts rather than hours in.
    pub fn check_files(&self) -> Result<()> {
        let d = &self.experiment.data;
        let named = d
            .measured_files()
            .into_iter()
            .flat_map(|(measured, files)| files.iter().map(move |file| (measured.key(), file)))
            .chain(d.curve.iter().map(|file| ("data.curve", file)))
            .chain(
                d.noise_reconstruction
                    .iter()
                    .map(|file| ("data.noise_reconstruction", file)),
            )
            .chain(d.mask.iter().map(|file| ("data.mask", file)))
            .chain(
                d.reshaped_mask
                    .iter()
                    .map(|file| ("data.reshaped_mask", file)),
            );
        for (key, file) in named {
            let path = self.resolve(file);
            ensure!(
                path.is_file(),
                "{}: {key} names {}, which does not exist",
                self.path.display(),
                path.display()
            );
        }
        Ok(())
    }

    /// A path from the file, resolved against its folder.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        self.dir.join(relative)
    }
}

/// Reads a measured curve: CSV with a header naming columns `t_s` and `alpha` (others ignored).
pub fn read_curve(path: &Path) -> Result<Vec<(f64, f64)>> {
    let text = crate::io::read_text(path, "measured curve")?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .with_context(|| format!("{}: empty file", path.display()))?
        .split(',')
        .map(str::trim)
        .collect();
    let column = |name: &str| {
        header.iter().position(|h| *h == name).with_context(|| {
            format!(
                "{}: no column '{name}' in the header (need t_s and alpha)",
                path.display()
            )
        })
    };
    let (t_col, a_col) = (column("t_s")?, column("alpha")?);
    lines
        .enumerate()
        .map(|(n, line)| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let get = |c: usize| -> Result<f64> {
                let field = fields.get(c).copied().unwrap_or("");
                field
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .with_context(|| {
                        format!(
                            "{}, line {}: '{field}' is not a number",
                            path.display(),
                            n + 2
                        )
                    })
            };
            Ok((get(t_col)?, get(a_col)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[particle]
name = "NC1"
voxel_nm = 1.0
mean_au_fraction = 0.22

[data]
times_s = [0, 15, 30]
reconstructions = ["a.tif", "b.tif", "c.tif"]
"#;

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let e = Experiment::parse(MINIMAL, Path::new("e.toml")).unwrap();
        assert_eq!(e.imaging, ImagingSection::default());
        assert_eq!(e.fit, FitSection::default());
        let params = e.imaging_params(Path::new(".")).unwrap();
        assert_eq!(params.tilt_angles_deg.len(), 71);
        assert_eq!(params.blur_sigma_nm, 1.0);
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key() {
        let unknown = format!("{MINIMAL}\n[imaging]\nblur_nm = 1.0\n");
        let error = Experiment::parse(&unknown, Path::new("e.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("blur_nm"), "{error}");
        let wrong = MINIMAL.replace("voxel_nm = 1.0", "voxel_nm = \"one\"");
        let error = Experiment::parse(&wrong, Path::new("e.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("voxel_nm"), "{error}");
        let dose = format!("{MINIMAL}\n[imaging]\ndose = \"lots\"\n");
        let error = Experiment::parse(&dose, Path::new("e.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("dose"), "{error}");
    }

    #[test]
    fn inconsistent_data_is_refused() {
        let short = MINIMAL.replace(", \"c.tif\"", "");
        let error = format!(
            "{:#}",
            Experiment::parse(&short, Path::new("e.toml")).unwrap_err()
        );
        assert!(error.contains("2 files for 3 times"), "{error}");
        let percent = MINIMAL.replace("0.22", "22");
        assert!(Experiment::parse(&percent, Path::new("e.toml")).is_err());
        let unsorted = MINIMAL.replace("[0, 15, 30]", "[0, 30, 15]");
        assert!(Experiment::parse(&unsorted, Path::new("e.toml")).is_err());
    }

    #[test]
    fn tilt_series_stand_in_for_reconstructions_and_only_for_them() {
        let series = MINIMAL.replace("reconstructions = ", "tilt_series = ");
        let e = Experiment::parse(&series, Path::new("e.toml")).unwrap();
        assert_eq!(
            e.data.measured_files().unwrap().0,
            MeasuredFiles::TiltSeries
        );
        assert!(e.data.start_mask_applies());
        let short = series.replace(", \"c.tif\"", "");
        let error = format!(
            "{:#}",
            Experiment::parse(&short, Path::new("e.toml")).unwrap_err()
        );
        assert!(
            error.contains("data.tilt_series lists 2 files for 3 times"),
            "{error}"
        );
        let both = series.replace(
            "tilt_series = ",
            "reconstructions = [\"a.tif\", \"b.tif\", \"c.tif\"]\ntilt_series = ",
        );
        let error = format!(
            "{:#}",
            Experiment::parse(&both, Path::new("e.toml")).unwrap_err()
        );
        assert!(error.contains("not several"), "{error}");
    }
}
