//! Batch fits on compute nodes (README "Running on a cluster"): the manifest of experiments with
//! its shared defaults, checked whole before any work starts; the deterministic split of a
//! manifest into shards (one per Slurm array task); the batch loop, resumable, which fits each
//! experiment of a shard with [`fit_into`] into its own results folder; and the summary table of a
//! results folder, read from the typed reports.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use super::fit::{REPORT_FILE, Report, fit_into};
use crate::backend::Engine;
use crate::backend::gpu::find_fault;
use crate::experiment::{Defaults, LoadedExperiment};
use crate::io::{Overwrite, StagedDir, remove_abandoned_staging, write_bytes_atomically};
use crate::progress::Progress;

/// A results folder's list of the experiments its manifest names, in manifest order.
pub const BATCH_FILE: &str = "batch.json";
/// What a failed experiment's folder holds instead of a report.
pub const ERROR_FILE: &str = "error.txt";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    experiment: Vec<EntryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    path: PathBuf,
    name: Option<String>,
}

/// One experiment of a manifest, loaded with the manifest's defaults.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its results folder's name: the manifest's `name`, else the experiment's particle name.
    pub name: String,
    pub loaded: LoadedExperiment,
}

/// A checked manifest: every experiment parses, its data files exist, names are unique.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

/// A results folder name must stay inside the folder and must not look like a staging folder.
fn check_name(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c)),
        "name '{name}' must be letters, digits, '-', '_' or '+' (it names a results folder)"
    );
    Ok(())
}

impl Manifest {
    /// Reads and checks the manifest at `path`; the first problem found names its entry.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = crate::io::read_text(path, "manifest")?;
        Manifest::parse(&text, path, |experiment, defaults| {
            let loaded = LoadedExperiment::load_with_defaults(experiment, defaults)?;
            loaded.check_files()?;
            Ok(loaded)
        })
    }

    /// Parses and checks a manifest's `text` (from `path`), loading each experiment with `load`
    /// (given the experiment's path beside the manifest and the manifest's defaults).
    pub fn parse(
        text: &str,
        path: &Path,
        mut load: impl FnMut(&Path, &Defaults) -> Result<LoadedExperiment>,
    ) -> Result<Manifest> {
        let file: ManifestFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        ensure!(
            !file.experiment.is_empty(),
            "{}: no [[experiment]] entries",
            path.display()
        );
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut names = HashSet::new();
        let mut entries = Vec::with_capacity(file.experiment.len());
        for (n, entry) in file.experiment.iter().enumerate() {
            let label = || {
                format!(
                    "{}: experiment {} ({})",
                    path.display(),
                    n + 1,
                    entry.path.display()
                )
            };
            let loaded = load(&dir.join(&entry.path), &file.defaults).with_context(label)?;
            let name = entry
                .name
                .clone()
                .unwrap_or_else(|| loaded.experiment.particle.name.clone());
            check_name(&name).with_context(label)?;
            if !names.insert(name.clone()) {
                bail!(
                    "{}: the name '{name}' is used twice; give each [[experiment]] its own name",
                    label()
                );
            }
            entries.push(Entry { name, loaded });
        }
        Ok(Manifest {
            path: path.to_owned(),
            entries,
        })
    }
}

/// Shard `index` of `count` (0-based): the entries at positions `index`, `index + count`, …, so
/// every entry lands in exactly one shard and the split depends only on the manifest order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with 0 ≤ I < N.
    pub fn parse(text: &str) -> Result<Shard> {
        let (index, count) = text
            .split_once('/')
            .with_context(|| format!("--shard '{text}': write it as I/N, e.g. 0/4"))?;
        let parse = |part: &str| {
            part.trim()
                .parse::<usize>()
                .with_context(|| format!("--shard '{text}': '{part}' is not a whole number"))
        };
        Shard::new(parse(index)?, parse(count)?).with_context(|| format!("--shard '{text}'"))
    }

    fn new(index: usize, count: usize) -> Result<Shard> {
        ensure!(count > 0, "the shard count must be at least 1");
        ensure!(
            index < count,
            "shard index {index} is not below the shard count {count} (indices start at 0)"
        );
        Ok(Shard { index, count })
    }

    /// The shard of a Slurm array task: SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN (0 when unset)
    /// of SLURM_ARRAY_TASK_COUNT; None outside an array job. `var` reads the environment.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT"))
        else {
            return Ok(None);
        };
        let number = |name: &str, text: &str| {
            text.trim()
                .parse::<usize>()
                .with_context(|| format!("{name}='{text}' is not a whole number"))
        };
        let id = number("SLURM_ARRAY_TASK_ID", &id)?;
        let min = match var("SLURM_ARRAY_TASK_MIN") {
            Some(text) => number("SLURM_ARRAY_TASK_MIN", &text)?,
            None => 0,
        };
        let count = number("SLURM_ARRAY_TASK_COUNT", &count)?;
        let index = id.checked_sub(min).with_context(|| {
            format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}")
        })?;
        Shard::new(index, count)
            .context("the Slurm array (use a contiguous --array range such as 0-7)")
            .map(Some)
    }

    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One row of the summary table, as the paper's Table 2.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SummaryRow {
    pub name: String,
    /// done, failed, or missing (named by the manifest, no result yet).
    pub status: String,
    pub volume_nm3: Option<f64>,
    pub aspect_ratio: Option<f64>,
    /// Au:Ag in at.%, e.g. 22:78.
    pub au_ag: Option<String>,
    pub d_1e19_m2s: Option<f64>,
    pub sd_1e19_m2s: Option<f64>,
    pub mse: Option<f64>,
    /// How far the start check moved D, in SDs (report.json's `start_check.shift_sd`).
    pub start_shift_sd: Option<f64>,
    /// The fitted start mask's surface level (report.json's `start_level.level`).
    pub start_level: Option<f64>,
    pub device: Option<String>,
    pub time_s: Option<f64>,
    /// A failure's first line.
    pub message: Option<String>,
}

impl SummaryRow {
    fn empty(name: &str, status: &str) -> SummaryRow {
        SummaryRow {
            name: name.to_owned(),
            status: status.to_owned(),
            volume_nm3: None,
            aspect_ratio: None,
            au_ag: None,
            d_1e19_m2s: None,
            sd_1e19_m2s: None,
            mse: None,
            start_shift_sd: None,
            start_level: None,
            device: None,
            time_s: None,
            message: None,
        }
    }

    fn from_report(name: &str, report: &Report) -> SummaryRow {
        let au = report.experiment.particle.mean_au_fraction;
        SummaryRow {
            volume_nm3: Some(report.quantification.volume_nm3),
            aspect_ratio: Some(report.quantification.aspect_ratio),
            au_ag: Some(format!("{:.0}:{:.0}", 100.0 * au, 100.0 * (1.0 - au))),
            d_1e19_m2s: Some(report.d_1e19),
            sd_1e19_m2s: Some(report.sd_1e19),
            mse: Some(report.mse),
            start_shift_sd: report.start_check.as_ref().map(|check| check.shift_sd),
            start_level: report.start_level.as_ref().map(|level| level.level),
            device: Some(report.device.clone()),
            time_s: Some(report.timings.total_s),
            ..SummaryRow::empty(name, "done")
        }
    }
}

/// The names a results folder's manifest listed (batch.json), if a batch wrote one.
fn batch_names(results: &Path) -> Result<Vec<String>> {
    let path = results.join(BATCH_FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = crate::io::read_text(&path, "batch list")?;
    let batch: BatchFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a batch list", path.display()))?;
    Ok(batch.experiments)
}

/// What a batch records in its results folder: the manifest and its experiments' names.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchFile {
    pub manifest: PathBuf,
    pub experiments: Vec<String>,
}

/// One row per experiment of `results`: those its batch.json names, in that order, then any other
/// result folders by name. Hidden (staging) folders are not results.
pub fn summarize(results: &Path) -> Result<Vec<SummaryRow>> {
    ensure!(
        results.is_dir(),
        "{}: not a results folder",
        results.display()
    );
    let mut names = batch_names(results)?;
    let mut others: Vec<String> = std::fs::read_dir(results)
        .with_context(|| format!("{}: cannot list", results.display()))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.') && !names.contains(name))
        .collect();
    others.sort();
    names.extend(others);
    names
        .iter()
        .map(|name| {
            let folder = results.join(name);
            if folder.join(REPORT_FILE).is_file() {
                let report = Report::read(&folder.join(REPORT_FILE))?;
                Ok(SummaryRow::from_report(name, &report))
            } else if folder.join(ERROR_FILE).is_file() {
                let error = std::fs::read_to_string(folder.join(ERROR_FILE)).unwrap_or_default();
                Ok(SummaryRow {
                    message: error.lines().next().map(str::to_owned),
                    ..SummaryRow::empty(name, "failed")
                })
            } else {
                Ok(SummaryRow::empty(name, "missing"))
            }
        })
        .collect()
}

const COLUMNS: [&str; 13] = [
    "name",
    "status",
    "volume_nm3",
    "aspect_ratio",
    "au_ag",
    "d_1e19_m2s",
    "sd_1e19_m2s",
    "mse",
    "start_shift_sd",
    "start_level",
    "device",
    "time_s",
    "message",
];

fn cells(row: &SummaryRow) -> [String; 13] {
    let number = |value: Option<f64>, digits: usize| {
        value.map_or(String::new(), |v| format!("{v:.digits$}"))
    };
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    [
        row.name.clone(),
        row.status.clone(),
        number(row.volume_nm3, 0),
        number(row.aspect_ratio, 2),
        text(&row.au_ag),
        number(row.d_1e19_m2s, 3),
        number(row.sd_1e19_m2s, 3),
        row.mse.map_or(String::new(), |v| format!("{v:.2e}")),
        number(row.start_shift_sd, 1),
        number(row.start_level, 3),
        text(&row.device),
        number(row.time_s, 1),
        text(&row.message),
    ]
}

/// The table as CSV (RFC 4180 quoting), the numbers rounded as in the Markdown table.
pub fn to_csv(rows: &[SummaryRow]) -> Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS)?;
    for row in rows {
        out.write_record(cells(row))?;
    }
    Ok(String::from_utf8(out.into_inner()?)?)
}

/// The table as Markdown, D ± SD in one column as the paper writes it.
pub fn to_markdown(rows: &[SummaryRow]) -> String {
    let mut md = String::from(
        "| particle | status | volume (nm³) | aspect ratio | Au:Ag (at.%) | D (1e-19 m²/s) | MSE | start check (SD) | start level | device | time (s) |\n\
         |---|---|---:|---:|---|---:|---:|---:|---:|---|---:|\n",
    );
    for row in rows {
        let c = cells(row);
        let d = match (row.d_1e19_m2s, row.sd_1e19_m2s) {
            (Some(d), Some(sd)) => format!("{d:.2} ± {sd:.2}"),
            _ => row.message.clone().unwrap_or_default().replace('|', "/"),
        };
        md += &format!(
            "| {} | {} | {} | {} | {} | {d} | {} | {} | {} | {} | {} |\n",
            c[0], c[1], c[2], c[3], c[4], c[7], c[8], c[9], c[10], c[11]
        );
    }
    md
}

/// What a batch run is asked to do.
pub struct BatchOptions<'o> {
    pub manifest: &'o Manifest,
    pub shard: Shard,
    /// The results folder: one folder per experiment, plus batch.json.
    pub out: &'o Path,
    /// Fit again experiments that are already done.
    pub force: bool,
    pub table_points: usize,
}

/// How a batch run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchCounts {
    pub fitted: usize,
    /// Done already (a report.json in their folder), not fitted again.
    pub skipped: usize,
    pub failed: usize,
}

/// Some experiments failed; the exit status says so (3) after the others have run.
#[derive(Debug, thiserror::Error)]
#[error(
    "{failed} of {attempted} experiments failed; their errors are in RESULTS/<name>/{ERROR_FILE}"
)]
pub struct SomeFailed {
    pub failed: usize,
    pub attempted: usize,
}

/// The failure of an experiment, kept in its results folder (staged, like a report).
fn record_failure(target: &Path, error: &anyhow::Error) -> Result<()> {
    let staged = StagedDir::create(target, Overwrite::Allow)?;
    write_bytes_atomically(
        &staged.path(ERROR_FILE),
        Overwrite::Refuse,
        format!("{error:#}\n").as_bytes(),
    )?;
    staged.commit()?;
    Ok(())
}

/// Fits the experiments of `options.shard` one after another, each into its own results folder,
/// skipping those done already. A failed experiment leaves its error in its folder and the others
/// run; under `--device gpu` a GPU fault stops the batch. `say` receives one line per experiment,
/// the results a person reads; `progress` the work's progress.
pub fn run_batch(
    options: &BatchOptions,
    engine: &mut Engine,
    progress: &mut dyn Progress,
    say: &mut dyn FnMut(&str),
) -> Result<BatchCounts> {
    let manifest = options.manifest;
    std::fs::create_dir_all(options.out).with_context(|| {
        format!(
            "{}: cannot create the results folder",
            options.out.display()
        )
    })?;
    let batch = BatchFile {
        manifest: std::path::absolute(&manifest.path).unwrap_or(manifest.path.clone()),
        experiments: manifest.entries.iter().map(|e| e.name.clone()).collect(),
    };
    write_bytes_atomically(
        &options.out.join(BATCH_FILE),
        Overwrite::Allow,
        (serde_json::to_string_pretty(&batch)? + "\n").as_bytes(),
    )?;
    let shard = options.shard;
    let mine: Vec<_> = manifest
        .entries
        .iter()
        .enumerate()
        .filter(|(position, _)| shard.owns(*position))
        .map(|(_, entry)| entry)
        .collect();
    say(&format!(
        "batch: shard {shard} has {} of {} experiments; on {}",
        mine.len(),
        manifest.entries.len(),
        engine.backend().describe()
    ));
    let mut counts = BatchCounts::default();
    for entry in mine {
        let target = options.out.join(&entry.name);
        if target.join(REPORT_FILE).is_file() && !options.force {
            say(&format!("{}: done already, skipped", entry.name));
            counts.skipped += 1;
            continue;
        }
        remove_abandoned_staging(&target)?;
        progress.line(&format!(
            "{}: fitting {}",
            entry.name,
            entry.loaded.path.display()
        ));
        let result = StagedDir::create(&target, Overwrite::Allow).and_then(|staged| {
            let report = engine.run(progress, |backend, progress| {
                fit_into(
                    &entry.loaded,
                    backend,
                    options.table_points,
                    &staged,
                    progress,
                )
            })?;
            staged.commit()?;
            Ok(report)
        });
        match result {
            Ok(report) => {
                say(&report.summary_line(&entry.name));
                counts.fitted += 1;
            }
            Err(error) => {
                say(&format!("{}: failed: {error:#}", entry.name));
                record_failure(&target, &error)?;
                counts.failed += 1;
                if find_fault(&error).is_some() {
                    // Only under --device gpu: auto has moved to the CPU. The next fits would fail
                    // the same way.
                    return Err(error.context(format!(
                        "batch stopped after {} with the GPU failing; rerun with --device auto or cpu to go on",
                        entry.name
                    )));
                }
            }
        }
    }
    say(&format!(
        "batch: shard {shard}: {} fitted, {} skipped (done already), {} failed",
        counts.fitted, counts.skipped, counts.failed
    ));
    if counts.failed > 0 {
        return Err(SomeFailed {
            failed: counts.failed,
            attempted: counts.fitted + counts.failed,
        }
        .into());
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_table_has_a_cell_for_every_header() {
        let mut fitted = SummaryRow::empty("NC1", "ok");
        fitted.d_1e19_m2s = Some(2.71);
        fitted.sd_1e19_m2s = Some(0.02);
        fitted.start_level = Some(0.9924);
        let rows = [fitted, SummaryRow::empty("NR1", "missing")];
        let md = to_markdown(&rows);
        let bars: Vec<usize> = md.lines().map(|l| l.matches('|').count()).collect();
        assert!(bars.iter().all(|&n| n == bars[0]), "{md}");
        assert!(md.contains("| 0.992 |"), "{md}");
    }

    #[test]
    fn shards_partition_every_manifest() {
        for entries in [0, 1, 5, 17] {
            for count in 1..=6 {
                let mut runs = vec![0; entries];
                for index in 0..count {
                    let shard = Shard::new(index, count).unwrap();
                    for (position, runs) in runs.iter_mut().enumerate() {
                        *runs += usize::from(shard.owns(position));
                    }
                }
                assert!(
                    runs.iter().all(|&r| r == 1),
                    "{entries} entries, {count} shards"
                );
            }
        }
    }

    #[test]
    fn shard_specs_and_slurm_variables() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        assert_eq!(Shard::from_slurm(env(&[])).unwrap(), None);
        let one_based = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(
            Shard::from_slurm(one_based).unwrap(),
            Some(Shard { index: 2, count: 3 })
        );
        let gappy = env(&[
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert!(Shard::from_slurm(gappy).is_err());
    }

    #[test]
    fn csv_quotes_cells_that_need_it() {
        let row = SummaryRow {
            message: Some("data: bad, \"very\"".into()),
            ..SummaryRow::empty("NC1", "failed")
        };
        let csv = to_csv(&[row]).unwrap();
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .ends_with(",\"data: bad, \"\"very\"\"\""),
            "{csv}"
        );
    }
}
