//! TIFF stacks: one page per k-slice, grey samples, uncompressed or compressed (the `tiff` crate
//! decodes Deflate, LZW and PackBits). The voxel size travels as ImageJ metadata (`unit=nm`,
//! `spacing=` in the first page's ImageDescription) plus the XResolution/YResolution tags, which is
//! what ImageJ/Fiji and Python's tifffile read and write.

use std::io::{Read, Seek, Write};

use ::tiff::decoder::{Decoder, DecodingResult, ifd::Value};
use ::tiff::encoder::{Rational, TiffEncoder, colortype::Gray32Float};
use ::tiff::tags::{ResolutionUnit, Tag};
use ::tiff::{ColorType, TiffError};
use anyhow::{Context, Result, bail, ensure};
use ndarray::Array3;

use super::{SampleType, VolumeFile, checked_shape};
use crate::volume::Volume;

/// The most a compressed page may expand: Deflate's limit is 1032:1 and LZW's, with 12-bit codes
/// for strings of up to 4096 bytes, below 2731:1; PackBits' is 64:1.
const MAX_COMPRESSION_RATIO: u64 = 4096;
/// TIFF's `Compression` tag value for uncompressed data.
const UNCOMPRESSED: u16 = 1;

/// Voxel size in the rational form of the resolution tags: pixels per nm as `SCALE / (voxel · SCALE)`,
/// exact for voxel sizes with up to six decimals.
const RESOLUTION_SCALE: f64 = 1e6;

pub(super) fn read<R: Read + Seek>(reader: R, file_len: u64) -> Result<VolumeFile> {
    let mut decoder = Decoder::new(reader).map_err(describe)?;
    let voxel_nm = voxel_size_nm(&mut decoder)?;
    let (columns, rows) = decoder.dimensions().map_err(describe)?;
    let mut samples: Vec<f32> = Vec::new();
    let mut sample_type = None;
    let mut pages = 0u64;
    loop {
        let page_dims = decoder.dimensions().map_err(describe)?;
        if page_dims != (columns, rows) {
            bail!(
                "page {pages} is {}x{} but page 0 is {columns}x{rows}; all pages of a stack must match",
                page_dims.0,
                page_dims.1
            );
        }
        match decoder.colortype().map_err(describe)? {
            ColorType::Gray(_) => {}
            other => bail!(
                "page {pages} has colour type {other:?}; only single-channel grey images are volumes"
            ),
        }
        check_page_size(&mut decoder, pages, (columns, rows), file_len)?;
        let (page_type, page) = convert_page(decoder.read_image().map_err(describe)?)
            .with_context(|| format!("page {pages}"))?;
        if *sample_type.get_or_insert(page_type) != page_type {
            bail!(
                "page {pages} stores {} but page 0 stores {}",
                page_type.name(),
                sample_type.map_or("", SampleType::name)
            );
        }
        samples.extend(page);
        pages += 1;
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(describe)?;
    }
    let shape = checked_shape(pages, rows as u64, columns as u64)?;
    let data = Array3::from_shape_vec(shape, samples).context("page sizes disagree")?;
    Ok(VolumeFile {
        data,
        voxel_nm,
        sample_type: sample_type.context("no pages")?,
    })
}

/// Refuses a page before it is decoded if its samples could not come from a file of `file_len`
/// bytes, or if the stack so far would exceed the memory budget (checked with f32 samples, what
/// the stack becomes).
fn check_page_size<R: Read + Seek>(
    decoder: &mut Decoder<R>,
    page: u64,
    (columns, rows): (u32, u32),
    file_len: u64,
) -> Result<()> {
    let bits_per_sample = match decoder.colortype().map_err(describe)? {
        ColorType::Gray(bits) => u64::from(bits),
        _ => 32,
    };
    let page_samples = u64::from(columns) * u64::from(rows);
    let stored_bytes = (page_samples * bits_per_sample).div_ceil(8);
    let compression = decoder
        .find_tag_unsigned::<u16>(Tag::Compression)
        .map_err(describe)?
        .unwrap_or(UNCOMPRESSED);
    let ratio = if compression == UNCOMPRESSED {
        1
    } else {
        MAX_COMPRESSION_RATIO
    };
    ensure!(
        stored_bytes <= file_len.saturating_mul(ratio),
        "page {page} claims {columns} x {rows} samples of {bits_per_sample} bits ({stored_bytes} bytes), more than a {file_len}-byte file can hold"
    );
    crate::memory::check(
        || format!("a stack of {} pages of {columns} x {rows}", page + 1),
        (page + 1) * page_samples * 4,
    )?;
    Ok(())
}

fn describe(error: TiffError) -> anyhow::Error {
    anyhow::anyhow!("invalid or unsupported TIFF: {error}")
}

fn convert_page(decoded: DecodingResult) -> Result<(SampleType, Vec<f32>)> {
    fn to_f32<T: Copy>(values: Vec<T>, f: impl Fn(T) -> f32) -> Vec<f32> {
        values.into_iter().map(f).collect()
    }
    Ok(match decoded {
        DecodingResult::U8(v) => (SampleType::U8, to_f32(v, f32::from)),
        DecodingResult::I8(v) => (SampleType::I8, to_f32(v, f32::from)),
        DecodingResult::U16(v) => (SampleType::U16, to_f32(v, f32::from)),
        DecodingResult::I16(v) => (SampleType::I16, to_f32(v, f32::from)),
        DecodingResult::U32(v) => (SampleType::U32, to_f32(v, |x| x as f32)),
        DecodingResult::I32(v) => (SampleType::I32, to_f32(v, |x| x as f32)),
        DecodingResult::F32(v) => (SampleType::F32, v),
        DecodingResult::F64(v) => (SampleType::F64, to_f32(v, |x| x as f32)),
        DecodingResult::F16(v) => (SampleType::F16, to_f32(v, f32::from)),
        DecodingResult::U64(_) | DecodingResult::I64(_) => {
            bail!("64-bit integer samples are not supported; convert to 32-bit float")
        }
    })
}

/// The voxel size from ImageJ's `spacing`/`unit` and the XResolution tag, if the file has one.
fn voxel_size_nm<R: Read + Seek>(decoder: &mut Decoder<R>) -> Result<Option<f64>> {
    let description = match decoder.find_tag(Tag::ImageDescription) {
        Ok(Some(Value::Ascii(text))) => text,
        _ => String::new(),
    };
    let imagej_field = |key: &str| {
        description
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_owned())
    };
    let unit_nm = match imagej_field("unit") {
        Some(unit) => Some(nm_per_unit(&unit).with_context(|| {
            format!("ImageJ unit '{unit}' is not a length unit alloyfit knows (nm, um, micron, A)")
        })?),
        None => match decoder.find_tag_unsigned::<u16>(Tag::ResolutionUnit) {
            Ok(Some(unit)) if unit == ResolutionUnit::Inch.to_u16() => Some(2.54e7),
            Ok(Some(unit)) if unit == ResolutionUnit::Centimeter.to_u16() => Some(1e7),
            _ => None,
        },
    };
    let Some(unit_nm) = unit_nm else {
        return Ok(None);
    };
    let in_plane = match decoder.find_tag(Tag::XResolution) {
        Ok(Some(Value::Rational(pixels, per_units))) if pixels > 0 && per_units > 0 => {
            Some(per_units as f64 / pixels as f64 * unit_nm)
        }
        _ => None,
    };
    let spacing = imagej_field("spacing")
        .map(|s| {
            s.parse::<f64>()
                .with_context(|| format!("ImageJ spacing '{s}' is not a number"))
        })
        .transpose()?
        .map(|s| s * unit_nm);
    match (in_plane, spacing) {
        (Some(xy), Some(z)) if (xy - z).abs() > 1e-3 * xy.max(z) => bail!(
            "anisotropic voxels ({xy} nm in-plane, {z} nm between pages) are not supported; resample to cubic voxels"
        ),
        // The decimal spacing keeps full precision; the rational resolution may be rounded.
        (_, Some(z)) => Ok(Some(z)),
        (xy, None) => Ok(xy),
    }
}

fn nm_per_unit(unit: &str) -> Option<f64> {
    match unit {
        "nm" | "nanometer" | "nanometers" => Some(1.0),
        "um" | "micron" | "microns" | "\u{00B5}m" | "\u{03BC}m" | "micrometer" => Some(1e3),
        "A" | "Å" | "angstrom" | "Angstrom" => Some(0.1),
        _ => None,
    }
}

pub(super) fn write<W: Write + Seek>(out: &mut W, volume: &Volume) -> Result<()> {
    let [pages, rows, columns] = volume.shape();
    let voxel_nm = volume.voxel_nm();
    let per_voxel = (voxel_nm * RESOLUTION_SCALE).round();
    if !(1.0..=u32::MAX as f64).contains(&per_voxel) {
        bail!(
            "voxel size {voxel_nm} nm cannot be stored in a TIFF resolution tag (1e-6 to 4000 nm)"
        );
    }
    let resolution = Rational {
        n: RESOLUTION_SCALE as u32,
        d: per_voxel as u32,
    };
    let (columns, rows) = (
        u32::try_from(columns).context("image too wide for TIFF")?,
        u32::try_from(rows).context("image too tall for TIFF")?,
    );
    let description = format!(
        "ImageJ=1.11a\nimages={pages}\nslices={pages}\nunit=nm\nspacing={voxel_nm}\nloop=false\n"
    );
    let mut encoder = TiffEncoder::new(out).map_err(describe)?;
    for (page, slice) in volume.data().outer_iter().enumerate() {
        let mut image = encoder
            .new_image::<Gray32Float>(columns, rows)
            .map_err(describe)?;
        if page == 0 {
            image
                .encoder()
                .write_tag(Tag::ImageDescription, description.as_str())
                .map_err(describe)?;
        }
        image.resolution(ResolutionUnit::None, resolution.clone());
        let samples = slice.as_slice().context("volume is not contiguous")?;
        image.write_data(samples).map_err(describe)?;
    }
    Ok(())
}
