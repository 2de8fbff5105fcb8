//! Volume files: fixtures written by Python's tifffile and mrcfile read back to the values their
//! script (tests/data/make_fixtures.py) wrote; alloyfit's own files round-trip bit for bit; bad
//! files fail with an error that names the file and the problem.

use std::path::{Path, PathBuf};

use alloyfit::Volume;
use alloyfit::io::{Overwrite, SampleType, read_volume, write_volume};
use ndarray::Array3;

const SHAPE: [usize; 3] = [3, 4, 5];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The per-type formulas of make_fixtures.py.
fn expected(sample_type: &str) -> Array3<f32> {
    Array3::from_shape_fn(SHAPE, |(k, i, j)| {
        let (k, i, j) = (k as f32, i as f32, j as f32);
        match sample_type {
            "float32" => (k * 100.0 + i * 10.0 + j) * 0.25 - 3.5,
            "uint8" => k * 60.0 + i * 10.0 + j,
            "int8" => k * 40.0 + i * 10.0 + j - 64.0,
            "uint16" => k * 1000.0 + i * 100.0 + j + 40000.0,
            "int16" => k * 1000.0 + i * 100.0 + j - 20000.0,
            "int32" => k * 100000.0 + i * 100.0 + j - 1000000.0,
            "float16" => (k * 100.0 + i * 10.0 + j) * 0.25,
            other => panic!("no formula for {other}"),
        }
    })
}

fn assert_reads(name: &str, formula: &str, sample_type: SampleType, voxel_nm: Option<f64>) {
    let file = read_volume(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert_eq!(file.sample_type, sample_type, "{name}");
    // Every fixture value is exactly representable in f32.
    assert_eq!(file.data, expected(formula), "{name}");
    match (file.voxel_nm, voxel_nm) {
        (Some(read), Some(want)) => assert!((read - want).abs() < 1e-6 * want, "{name}: {read}"),
        (read, want) => assert_eq!(read, want, "{name}"),
    }
}

#[test]
fn tifffile_stacks_read_with_values_and_voxel_size() {
    assert_reads(
        "tiff_float32_imagej.tif",
        "float32",
        SampleType::F32,
        Some(0.5),
    );
    assert_reads("tiff_uint8.tif", "uint8", SampleType::U8, None);
    assert_reads("tiff_uint16.tif", "uint16", SampleType::U16, None);
    assert_reads("tiff_int16.tif", "int16", SampleType::I16, None);
    assert_reads("tiff_int32.tif", "int32", SampleType::I32, None);
}

#[test]
fn compressed_tiff_stacks_read() {
    assert_reads("tiff_float32_deflate.tif", "float32", SampleType::F32, None);
    assert_reads("tiff_uint16_lzw.tif", "uint16", SampleType::U16, None);
}

#[test]
fn mrcfile_volumes_read_in_every_supported_mode() {
    assert_reads("mrc_mode0.mrc", "int8", SampleType::I8, Some(0.5));
    assert_reads("mrc_mode1.mrc", "int16", SampleType::I16, Some(0.5));
    assert_reads("mrc_mode2.mrc", "float32", SampleType::F32, Some(0.5));
    assert_reads("mrc_mode6.mrc", "uint16", SampleType::U16, Some(0.5));
    assert_reads("mrc_mode12.mrc", "float16", SampleType::F16, Some(0.5));
}

#[test]
fn mrc_extended_header_is_skipped_and_byte_order_follows_the_stamp() {
    assert_reads(
        "mrc_fei_extended_header.mrc",
        "float32",
        SampleType::F32,
        Some(0.5),
    );
    assert_reads("mrc_big_endian.mrc", "float32", SampleType::F32, Some(0.5));
}

/// Values that exercise every bit pattern class: signs, zero, subnormals, extremes.
fn awkward_volume(voxel_nm: f64) -> Volume {
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.5e-40,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        std::f32::consts::PI,
    ];
    let data = Array3::from_shape_fn([4, 6, 7], |(k, i, j)| {
        let n = k * 42 + i * 7 + j;
        specials[n % specials.len()] * (1.0 + n as f32 * 1e-3)
    });
    Volume::new(data, voxel_nm).unwrap()
}

fn assert_round_trip(path: &Path, voxel_nm: f64) {
    let volume = awkward_volume(voxel_nm);
    write_volume(path, &volume, Overwrite::Refuse).unwrap();
    let back = read_volume(path).unwrap();
    assert_eq!(back.sample_type, SampleType::F32);
    let bits = |d: &Array3<f32>| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back.data), bits(volume.data()), "{}", path.display());
    let read_nm = back.voxel_nm.expect("voxel size stored");
    // TIFF keeps the decimal exactly; MRC stores the cell length as f32 (relative 6e-8).
    assert!(
        (read_nm - voxel_nm).abs() <= 1e-7 * voxel_nm,
        "{}: {read_nm} vs {voxel_nm}",
        path.display()
    );
}

#[test]
fn float_volumes_round_trip_bit_exactly_with_voxel_size() {
    let dir = tempfile::tempdir().unwrap();
    for voxel_nm in [0.5, 0.37, 1.0, 2.125] {
        assert_round_trip(&dir.path().join(format!("v{voxel_nm}.tif")), voxel_nm);
        assert_round_trip(&dir.path().join(format!("v{voxel_nm}.mrc")), voxel_nm);
    }
}

#[test]
fn writing_refuses_to_overwrite_unless_allowed_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.mrc");
    let volume = awkward_volume(1.0);
    write_volume(&path, &volume, Overwrite::Refuse).unwrap();
    let error = write_volume(&path, &volume, Overwrite::Refuse).unwrap_err();
    assert!(format!("{error:#}").contains("--force"), "{error:#}");
    write_volume(&path, &volume, Overwrite::Allow).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["v.mrc"]);
}

/// Reads `path`, expects failure, and checks the message names the file and each of `problem`.
fn assert_read_fails(path: &Path, problem: &[&str]) {
    let error = read_volume(path).expect_err("should fail");
    let message = format!("{error:#}");
    assert!(
        message.contains(&path.display().to_string()),
        "no file name in: {message}"
    );
    for p in problem {
        assert!(message.contains(p), "'{p}' missing from: {message}");
    }
}

fn copy_fixture_truncated(name: &str, keep: usize, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let path = dir.join(format!("truncated_{name}"));
    std::fs::write(&path, &bytes[..keep]).unwrap();
    path
}

#[test]
fn bad_files_fail_with_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    assert_read_fails(&dir.path().join("missing.mrc"), &["cannot open"]);
    assert_read_fails(&dir.path().join("volume.raw"), &["unknown volume format"]);
    assert_read_fails(&fixture("tiff_rgb.tif"), &["RGB", "grey"]);

    let short_header = copy_fixture_truncated("mrc_mode2.mrc", 500, dir.path());
    assert_read_fails(&short_header, &["truncated MRC header"]);
    let short_data = copy_fixture_truncated("mrc_mode2.mrc", 1100, dir.path());
    assert_read_fails(
        &short_data,
        &["header describes", "file has only 1100 bytes"],
    );
    let short_tiff = copy_fixture_truncated("tiff_float32_imagej.tif", 300, dir.path());
    assert_read_fails(&short_tiff, &["TIFF"]);

    // A header that claims 2^30 voxels in a 1 kB file must fail before allocating them.
    let mut bytes = std::fs::read(fixture("mrc_mode2.mrc")).unwrap();
    for (word, n) in [(0, 1024i32), (1, 1024), (2, 1024)] {
        bytes[4 * word..4 * word + 4].copy_from_slice(&n.to_le_bytes());
    }
    let huge = dir.path().join("huge.mrc");
    std::fs::write(&huge, &bytes).unwrap();
    assert_read_fails(&huge, &["1024 x 1024 x 1024", "file has only"]);

    let mut bytes = std::fs::read(fixture("mrc_mode2.mrc")).unwrap();
    bytes[12..16].copy_from_slice(&4i32.to_le_bytes());
    let complex = dir.path().join("complex.mrc");
    std::fs::write(&complex, &bytes).unwrap();
    assert_read_fails(&complex, &["mode 4 is not supported"]);
}

#[test]
fn abandoned_staging_of_one_target_is_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let staged_dir = dir.path().join(".NC1.partial-123");
    std::fs::create_dir(&staged_dir).unwrap();
    std::fs::write(staged_dir.join("report.json"), b"{").unwrap();
    std::fs::write(dir.path().join(".NC1.partial-9"), b"half").unwrap();
    let neighbours = [".NC10.partial-1", "NC1", ".NC1.partial"];
    for name in neighbours {
        std::fs::create_dir(dir.path().join(name)).unwrap();
    }
    alloyfit::io::remove_abandoned_staging(&dir.path().join("NC1")).unwrap();
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".NC1.partial", ".NC10.partial-1", "NC1"]);
}
