//! MRC2014 volumes and image stacks: modes 0 (int8), 1 (int16), 2 (float32), 6 (uint16) and
//! 12 (float16) read, mode 2 written. The voxel size is `cella / mx` (Å in the file, nm here).
//! Extended headers (`nsymbt` bytes after the 1024-byte header, e.g. FEI's) are skipped. Byte order
//! follows the machine stamp; files without a valid stamp (pre-2014 writers) are read in whichever
//! order gives a valid mode and positive dimensions.
//!
//! Axis mapping: x (fastest) = j, y = i, z (sections) = k, so one section is one k-slice.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail, ensure};
use ndarray::Array3;

use super::{SampleType, VolumeFile, checked_shape};
use crate::volume::Volume;

const HEADER_BYTES: usize = 1024;
/// IMOD marks its files with this value in word 38; bit 0 of word 39 then says whether mode 0
/// bytes are signed (MRC2014 says they always are, older IMOD files store them unsigned).
const IMOD_STAMP: i32 = 1_146_047_817;
const STAMP_LITTLE_ENDIAN: [u8; 4] = [0x44, 0x44, 0x00, 0x00];
/// Samples converted to bytes at a time when writing, so the copy stays small beside the volume.
const WRITE_CHUNK_SAMPLES: usize = 1 << 16;
/// Ångström per nm: MRC stores cell lengths in Å.
const ANGSTROM_PER_NM: f64 = 10.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteOrder {
    Little,
    Big,
}

struct Header<'a> {
    bytes: &'a [u8; HEADER_BYTES],
    order: ByteOrder,
}

impl Header<'_> {
    fn word(&self, index: usize) -> [u8; 4] {
        let mut w = [0; 4];
        w.copy_from_slice(&self.bytes[4 * index..4 * index + 4]);
        w
    }
    fn int(&self, index: usize) -> i32 {
        match self.order {
            ByteOrder::Little => i32::from_le_bytes(self.word(index)),
            ByteOrder::Big => i32::from_be_bytes(self.word(index)),
        }
    }
    fn float(&self, index: usize) -> f32 {
        f32::from_bits(self.int(index) as u32)
    }
}

fn sample_type_of(mode: i32, signed_bytes: bool) -> Option<SampleType> {
    match mode {
        0 if signed_bytes => Some(SampleType::I8),
        0 => Some(SampleType::U8),
        1 => Some(SampleType::I16),
        2 => Some(SampleType::F32),
        6 => Some(SampleType::U16),
        12 => Some(SampleType::F16),
        _ => None,
    }
}

fn byte_order(bytes: &[u8; HEADER_BYTES]) -> ByteOrder {
    match bytes[212] {
        0x44 | 0x41 => ByteOrder::Little,
        0x11 => ByteOrder::Big,
        _ => {
            let plausible = |order| {
                let header = Header { bytes, order };
                sample_type_of(header.int(3), true).is_some()
                    && (0..3).all(|i| header.int(i) > 0 && header.int(i) < 1 << 24)
            };
            if !plausible(ByteOrder::Little) && plausible(ByteOrder::Big) {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            }
        }
    }
}

pub(super) fn read<R: Read>(mut reader: R, file_len: u64) -> Result<VolumeFile> {
    let mut bytes = [0u8; HEADER_BYTES];
    reader.read_exact(&mut bytes).with_context(|| {
        format!(
            "truncated MRC header: the file has {file_len} bytes, a header needs {HEADER_BYTES}"
        )
    })?;
    let header = Header {
        order: byte_order(&bytes),
        bytes: &bytes,
    };
    let (nx, ny, nz, mode) = (header.int(0), header.int(1), header.int(2), header.int(3));
    ensure!(
        nx > 0 && ny > 0 && nz > 0,
        "not an MRC file, or a corrupt one: dimensions {nx} x {ny} x {nz}"
    );
    let axes = (header.int(16), header.int(17), header.int(18));
    ensure!(
        axes == (1, 2, 3) || axes == (0, 0, 0),
        "axis order mapc/mapr/maps = {axes:?} is not supported; only (1, 2, 3)"
    );
    let signed_bytes = header.int(38) != IMOD_STAMP || header.int(39) & 1 == 1;
    let sample_type = sample_type_of(mode, signed_bytes).with_context(|| {
        format!("MRC mode {mode} is not supported; alloyfit reads modes 0, 1, 2, 6 and 12")
    })?;
    let extended_bytes = header.int(23);
    ensure!(
        extended_bytes >= 0,
        "negative extended header size {extended_bytes}"
    );
    let shape = checked_shape(nz as u64, ny as u64, nx as u64)?;
    let voxels = (shape[0] * shape[1] * shape[2]) as u64;
    let sample_bytes = bytes_per_sample(sample_type);
    let data_start = HEADER_BYTES as u64 + extended_bytes as u64;
    let needed = data_start + voxels * sample_bytes as u64;
    ensure!(
        file_len >= needed,
        "the header describes {nx} x {ny} x {nz} {} voxels ({needed} bytes with headers) but the file has only {file_len} bytes",
        sample_type.name()
    );
    crate::memory::check(
        || format!("the {nx} x {ny} x {nz} {} volume", sample_type.name()),
        voxels * (sample_bytes as u64 + 4),
    )?;
    std::io::copy(
        &mut (&mut reader).take(extended_bytes as u64),
        &mut std::io::sink(),
    )
    .context("cannot skip the extended header")?;
    let mut raw = vec![0u8; voxels as usize * sample_bytes];
    reader
        .read_exact(&mut raw)
        .context("file ended inside the data")?;
    let samples = decode_samples(&raw, sample_type, header.order);
    let mx = header.int(7);
    let cell_x_angstrom = f64::from(header.float(10));
    let voxel_nm = (mx > 0 && cell_x_angstrom.is_finite() && cell_x_angstrom > 0.0)
        .then(|| cell_x_angstrom / f64::from(mx) / ANGSTROM_PER_NM);
    Ok(VolumeFile {
        data: Array3::from_shape_vec(shape, samples).context("data size mismatch")?,
        voxel_nm,
        sample_type,
    })
}

fn bytes_per_sample(sample_type: SampleType) -> usize {
    match sample_type {
        SampleType::I8 | SampleType::U8 => 1,
        SampleType::I16 | SampleType::U16 | SampleType::F16 => 2,
        SampleType::I32 | SampleType::U32 | SampleType::F32 => 4,
        SampleType::F64 => 8,
    }
}

fn decode_samples(raw: &[u8], sample_type: SampleType, order: ByteOrder) -> Vec<f32> {
    let two = |c: &[u8]| match order {
        ByteOrder::Little => [c[0], c[1]],
        ByteOrder::Big => [c[1], c[0]],
    };
    let four = |c: &[u8]| match order {
        ByteOrder::Little => [c[0], c[1], c[2], c[3]],
        ByteOrder::Big => [c[3], c[2], c[1], c[0]],
    };
    match sample_type {
        SampleType::I8 => raw.iter().map(|&b| f32::from(b as i8)).collect(),
        SampleType::U8 => raw.iter().map(|&b| f32::from(b)).collect(),
        SampleType::I16 => raw
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes(two(c))))
            .collect(),
        SampleType::U16 => raw
            .chunks_exact(2)
            .map(|c| f32::from(u16::from_le_bytes(two(c))))
            .collect(),
        SampleType::F16 => raw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(two(c)).to_f32())
            .collect(),
        SampleType::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(four(c)))
            .collect(),
        SampleType::I32 | SampleType::U32 | SampleType::F64 => {
            unreachable!("no MRC mode maps to {}", sample_type.name())
        }
    }
}

pub(super) fn write<W: Write>(out: &mut W, volume: &Volume) -> Result<()> {
    let [nz, ny, nx] = volume.shape();
    let dims = [nx, ny, nz].map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    if dims.contains(&i32::MAX) {
        bail!("volume {nx} x {ny} x {nz} is too large for MRC");
    }
    let samples = volume.as_slice();
    let (mut min, mut max, mut sum, mut sum_sq) = (f32::INFINITY, f32::NEG_INFINITY, 0.0, 0.0);
    for &v in samples {
        min = min.min(v);
        max = max.max(v);
        sum += f64::from(v);
        sum_sq += f64::from(v) * f64::from(v);
    }
    let count = samples.len() as f64;
    let mean = sum / count;
    let rms = (sum_sq / count - mean * mean).max(0.0).sqrt();

    let mut header = [0u8; HEADER_BYTES];
    let mut put =
        |index: usize, word: [u8; 4]| header[4 * index..4 * index + 4].copy_from_slice(&word);
    for (index, n) in dims.iter().enumerate() {
        put(index, n.to_le_bytes());
        put(7 + index, n.to_le_bytes());
        let cell_angstrom = *n as f64 * volume.voxel_nm() * ANGSTROM_PER_NM;
        put(10 + index, (cell_angstrom as f32).to_le_bytes());
        put(13 + index, 90f32.to_le_bytes());
        put(16 + index, (index as i32 + 1).to_le_bytes());
    }
    put(3, 2i32.to_le_bytes());
    put(19, min.to_le_bytes());
    put(20, max.to_le_bytes());
    put(21, (mean as f32).to_le_bytes());
    put(22, 1i32.to_le_bytes());
    put(27, 20140i32.to_le_bytes());
    put(52, *b"MAP ");
    put(53, STAMP_LITTLE_ENDIAN);
    put(54, (rms as f32).to_le_bytes());
    put(55, 1i32.to_le_bytes());
    let label = format!("alloyfit {}", env!("CARGO_PKG_VERSION"));
    header[224..224 + label.len()].copy_from_slice(label.as_bytes());
    out.write_all(&header)?;
    let mut buffer = Vec::with_capacity(WRITE_CHUNK_SAMPLES * 4);
    for chunk in samples.chunks(WRITE_CHUNK_SAMPLES) {
        buffer.clear();
        buffer.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
        out.write_all(&buffer)?;
    }
    Ok(())
}
