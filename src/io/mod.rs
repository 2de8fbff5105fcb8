//! Reading and writing volumes, tilt series and tilt angles.
//!
//! Formats are chosen by file extension: TIFF stacks (`.tif`, `.tiff`; one page per k-slice) and
//! MRC2014 (`.mrc`, `.rec`, `.st`, `.ali`, `.map`; one section per k-slice). A tilt series uses the same
//! files, one image per angle. Every reader checks sizes against the file before it allocates, and
//! every writer writes to a temporary name beside the target and renames it when complete, so a
//! crash never leaves a half-written file under the real name.

mod mrc;
mod tiff;
pub mod tilts;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result, bail, ensure};
use ndarray::Array3;

use crate::volume::Volume;

/// The sample type a file stored its voxels in (they are always converted to f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleType {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F16,
    F32,
    F64,
}

impl SampleType {
    pub fn name(self) -> &'static str {
        match self {
            SampleType::I8 => "int8",
            SampleType::U8 => "uint8",
            SampleType::I16 => "int16",
            SampleType::U16 => "uint16",
            SampleType::I32 => "int32",
            SampleType::U32 => "uint32",
            SampleType::F16 => "float16",
            SampleType::F32 => "float32",
            SampleType::F64 => "float64",
        }
    }
}

/// A volume as read from a file: the samples, the voxel size if the file stores one, and the
/// sample type it was stored in.
#[derive(Debug, Clone)]
pub struct VolumeFile {
    pub data: Array3<f32>,
    pub voxel_nm: Option<f64>,
    pub sample_type: SampleType,
}

impl VolumeFile {
    /// The volume with its voxel size: `voxel_override_nm` if given, else the file's.
    pub fn into_volume(self, path: &Path, voxel_override_nm: Option<f64>) -> Result<Volume> {
        let voxel_nm = voxel_override_nm.or(self.voxel_nm).with_context(|| {
            format!(
                "{}: the file stores no voxel size; pass it with --voxel-nm",
                path.display()
            )
        })?;
        Volume::new(self.data, voxel_nm).with_context(|| format!("{}", path.display()))
    }
}

/// Reads an f64 that JSON holds as null because it was not finite (JSON has no NaN or infinity;
/// serde_json writes null), as NaN: for report fields that are NaN where they cannot be measured,
/// and SDs that are infinite where the data do not bound D (a report alloyfit wrote must read
/// back, or a batch's summary fails on it).
pub(crate) fn nan_for_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

/// A volume file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tiff,
    Mrc,
}

impl Format {
    /// The extension alloyfit writes files of this format with.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tiff => "tif",
            Format::Mrc => "mrc",
        }
    }
}

/// The format a file name's extension says.
fn format_of(path: &Path) -> Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("tif" | "tiff") => Ok(Format::Tiff),
        Some("mrc" | "rec" | "st" | "ali" | "map") => Ok(Format::Mrc),
        _ => bail!(
            "{}: unknown volume format; use a TIFF stack (.tif, .tiff) or MRC (.mrc, .rec, .st, .ali, .map)",
            path.display()
        ),
    }
}

/// Reads a volume or tilt series, choosing the format by extension.
pub fn read_volume(path: &Path) -> Result<VolumeFile> {
    let format = format_of(path)?;
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let file_len = file
        .metadata()
        .with_context(|| format!("{}: cannot read file size", path.display()))?
        .len();
    read_from(BufReader::new(file), file_len, format)
        .with_context(|| format!("{}: cannot read volume", path.display()))
}

/// Decodes a volume file held in memory: the same checks as [`read_volume`], for data that did
/// not come from a file (and for the fuzz targets in tests/fuzz).
pub fn decode_volume(bytes: &[u8], format: Format) -> Result<VolumeFile> {
    read_from(std::io::Cursor::new(bytes), bytes.len() as u64, format)
}

fn read_from<R: Read + Seek>(reader: R, len_bytes: u64, format: Format) -> Result<VolumeFile> {
    match format {
        Format::Tiff => tiff::read(reader, len_bytes),
        Format::Mrc => mrc::read(reader, len_bytes),
    }
}

/// The largest text file (experiment, manifest, tilt angles, curve) alloyfit reads: far beyond
/// any real one, small enough that a volume passed by mistake is refused before it is read.
pub const MAX_TEXT_BYTES: u64 = 16 << 20;

/// Reads a UTF-8 text file of at most [`MAX_TEXT_BYTES`]; `what` says what it should be.
pub fn read_text(path: &Path, what: &str) -> Result<String> {
    let file =
        File::open(path).with_context(|| format!("{}: cannot read the {what}", path.display()))?;
    let mut text = String::new();
    let read = file.take(MAX_TEXT_BYTES + 1).read_to_string(&mut text);
    read.with_context(|| format!("{}: cannot read the {what} as UTF-8 text", path.display()))?;
    ensure!(
        text.len() as u64 <= MAX_TEXT_BYTES,
        "{}: larger than {} MiB; that is not a {what}",
        path.display(),
        MAX_TEXT_BYTES >> 20
    );
    Ok(text)
}

/// Whether an existing output may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    Refuse,
    Allow,
}

/// Writes a volume as 32-bit float with its voxel size, choosing the format by extension.
pub fn write_volume(path: &Path, volume: &Volume, overwrite: Overwrite) -> Result<()> {
    let format = format_of(path)?;
    write_atomically(path, overwrite, |out| match format {
        Format::Tiff => tiff::write(out, volume),
        Format::Mrc => mrc::write(out, volume),
    })
}

/// Refuses to touch `path` if it exists and `overwrite` is [`Overwrite::Refuse`].
pub fn check_writable(path: &Path, overwrite: Overwrite) -> Result<()> {
    if overwrite == Overwrite::Refuse && path.exists() {
        bail!(
            "{}: already exists; pass --force to overwrite it",
            path.display()
        );
    }
    Ok(())
}

/// Refuses an output folder that exists and is not empty, unless `overwrite` allows replacing it.
pub fn check_folder_writable(target: &Path, overwrite: Overwrite) -> Result<()> {
    let occupied = target
        .read_dir()
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(target.exists());
    if occupied && overwrite == Overwrite::Refuse {
        bail!(
            "{}: already exists and is not empty; pass --force to replace it",
            target.display()
        );
    }
    Ok(())
}

/// Staging paths (temporary files and folders) being written now, so that an interrupted run can
/// remove them (see [`abandon_staging`]).
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_progress() -> MutexGuard<'static, Vec<PathBuf>> {
    IN_PROGRESS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn forget_staging(path: &Path) {
    in_progress().retain(|p| p != path);
}

fn remove_path(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Renames a finished staging path to its target, never in the middle of [`abandon_staging`].
fn publish(staging: &Path, target: &Path) -> Result<()> {
    let mut staged = in_progress();
    std::fs::rename(staging, target).with_context(|| {
        format!(
            "cannot rename {} to {}",
            staging.display(),
            target.display()
        )
    })?;
    staged.retain(|p| p != staging);
    Ok(())
}

/// Removes every staging path still being written and returns how many there were. For a signal
/// handler that exits right after: it keeps the registry locked, so that nothing is published
/// afterwards and every output is either complete under its name or gone.
pub fn abandon_staging() -> usize {
    let mut staged = in_progress();
    let count = staged.len();
    for path in staged.drain(..) {
        // A temporary file inside a staging folder removed first is already gone.
        let _ = remove_path(&path);
    }
    std::mem::forget(staged);
    count
}

/// Runs `write` on a temporary file beside `path` and renames it to `path` once complete.
pub fn write_atomically(
    path: &Path,
    overwrite: Overwrite,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    check_writable(path, overwrite)?;
    let temp = temporary_path(path)?;
    in_progress().push(temp.clone());
    let result = (|| {
        let file =
            File::create(&temp).with_context(|| format!("{}: cannot create", temp.display()))?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok::<_, anyhow::Error>(())
    })();
    match result {
        Ok(()) => publish(&temp, path),
        Err(error) => {
            // The temporary file holds a partial write that nobody can use.
            let _ = std::fs::remove_file(&temp);
            forget_staging(&temp);
            Err(error.context(format!("{}: cannot write", path.display())))
        }
    }
}

/// Writes `bytes` to `path` through [`write_atomically`].
pub fn write_bytes_atomically(path: &Path, overwrite: Overwrite, bytes: &[u8]) -> Result<()> {
    write_atomically(path, overwrite, |out| {
        out.write_all(bytes)?;
        Ok(())
    })
}

/// An output folder filled under a temporary name beside its final one and renamed when complete,
/// so that an interrupted run leaves no folder that looks finished.
pub struct StagedDir {
    staging: PathBuf,
    target: PathBuf,
    overwrite: Overwrite,
}

impl StagedDir {
    /// Refuses an existing non-empty `target` unless `overwrite`, then creates the staging folder.
    pub fn create(target: &Path, overwrite: Overwrite) -> Result<StagedDir> {
        check_folder_writable(target, overwrite)?;
        let staging = temporary_path(target)?;
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("{}: cannot clear", staging.display()))?;
        }
        std::fs::create_dir_all(&staging).with_context(|| {
            format!(
                "{}: cannot create the output folder (staging it as {})",
                target.display(),
                staging.display()
            )
        })?;
        in_progress().push(staging.clone());
        Ok(StagedDir {
            staging,
            target: target.to_owned(),
            overwrite,
        })
    }

    /// Where to write a file that will end up as `target/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Renames the staging folder to the target, replacing an old target if allowed.
    pub fn commit(self) -> Result<PathBuf> {
        if self.target.exists() {
            if self.overwrite == Overwrite::Refuse && self.target.read_dir()?.next().is_some() {
                bail!(
                    "{}: appeared while the run was writing",
                    self.target.display()
                );
            }
            std::fs::remove_dir_all(&self.target)
                .with_context(|| format!("{}: cannot replace", self.target.display()))?;
        }
        publish(&self.staging, &self.target)?;
        Ok(self.target.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        // Still staged: the run failed, and a partial folder helps nobody.
        let _ = std::fs::remove_dir_all(&self.staging);
        forget_staging(&self.staging);
    }
}

/// A mask stored as a volume file: inside where the value is above 0. NaN or infinite voxels are an
/// error naming `path`, since no threshold can say which side they are on.
pub fn mask_from_volume(volume: &crate::Volume, path: &Path) -> Result<crate::Mask> {
    ensure!(
        volume.data().iter().all(|v| v.is_finite()),
        "{}: the mask has NaN or infinite voxels",
        path.display()
    );
    Ok(crate::Mask::from_threshold(volume, 0.0))
}

/// Removes the staging folders and files that killed runs (no chance to clean up) left for
/// `target`. Only for a caller that owns `target`: a staging folder of a run still writing it would
/// go too.
pub fn remove_abandoned_staging(target: &Path) -> Result<()> {
    let Some(name) = target.file_name() else {
        return Ok(());
    };
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let Ok(entries) = parent.read_dir() else {
        return Ok(());
    };
    let prefix = staging_prefix(name);
    for entry in entries.filter_map(|entry| entry.ok()) {
        if entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(prefix.as_encoded_bytes())
        {
            let path = entry.path();
            remove_path(&path).with_context(|| format!("{}: cannot remove", path.display()))?;
        }
    }
    Ok(())
}

/// `.name.partial-`: what every staging path for `name` starts with.
fn staging_prefix(name: &std::ffi::OsStr) -> std::ffi::OsString {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".partial-");
    prefix
}

/// `dir/.name.partial-<pid>`: hidden, in the same directory so the rename cannot cross file systems.
fn temporary_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let mut temp_name = staging_prefix(name);
    temp_name.push(std::process::id().to_string());
    Ok(path.with_file_name(temp_name))
}

/// Shape `[k, i, j]` from a file's dimensions, refusing sizes that overflow memory arithmetic.
fn checked_shape(pages: u64, rows: u64, columns: u64) -> Result<[usize; 3]> {
    let total = pages
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(columns))
        .filter(|&n| n <= isize::MAX as u64 / 4)
        .with_context(|| format!("absurd size {pages} x {rows} x {columns}"))?;
    if total == 0 {
        bail!("empty volume ({pages} x {rows} x {columns})");
    }
    Ok([pages as usize, rows as usize, columns as usize])
}
