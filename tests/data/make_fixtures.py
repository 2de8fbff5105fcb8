"""Writes the reader fixtures in this folder with Python's tifffile and mrcfile.

Each volume has shape (k, i, j) = (3, 4, 5) and values from a formula per sample type that the Rust
tests (tests/io_formats.rs) recompute. Run from this folder:

    pip install tifffile mrcfile imagecodecs numpy
    python3 make_fixtures.py
"""

import numpy as np
import mrcfile
import tifffile

SHAPE = (3, 4, 5)
k, i, j = np.indices(SHAPE)

VALUES = {
    "float32": ((k * 100 + i * 10 + j) * 0.25 - 3.5).astype(np.float32),
    "uint8": (k * 60 + i * 10 + j).astype(np.uint8),
    "int8": (k * 40 + i * 10 + j - 64).astype(np.int8),
    "uint16": (k * 1000 + i * 100 + j + 40000).astype(np.uint16),
    "int16": (k * 1000 + i * 100 + j - 20000).astype(np.int16),
    "int32": (k * 100000 + i * 100 + j - 1000000).astype(np.int32),
    "float16": ((k * 100 + i * 10 + j) * 0.25).astype(np.float16),
}

VOXEL_NM = 0.5

# TIFF: ImageJ hyperstack with voxel size, plain integer stacks, compressed stacks, an RGB image.
tifffile.imwrite(
    "tiff_float32_imagej.tif",
    VALUES["float32"],
    imagej=True,
    resolution=(1 / VOXEL_NM, 1 / VOXEL_NM),
    metadata={"spacing": VOXEL_NM, "unit": "nm"},
)
# photometric="minisblack": without it tifffile stores a (3, h, w) array as planar RGB.
for name in ["uint8", "uint16", "int16", "int32"]:
    tifffile.imwrite(f"tiff_{name}.tif", VALUES[name], photometric="minisblack")
tifffile.imwrite(
    "tiff_float32_deflate.tif", VALUES["float32"], photometric="minisblack", compression="zlib"
)
tifffile.imwrite(
    "tiff_uint16_lzw.tif", VALUES["uint16"], photometric="minisblack", compression="lzw"
)
tifffile.imwrite("tiff_rgb.tif", np.zeros((4, 5, 3), np.uint8), photometric="rgb")

# MRC: every mode alloyfit reads, voxel size 0.5 nm = 5 Å.
for mode, name in [(0, "int8"), (1, "int16"), (2, "float32"), (6, "uint16"), (12, "float16")]:
    with mrcfile.new(f"mrc_mode{mode}.mrc", overwrite=True) as mrc:
        mrc.set_data(VALUES[name])
        mrc.voxel_size = VOXEL_NM * 10
        assert int(mrc.header.mode) == mode

# An FEI-style extended header (nsymbt bytes between the header and the data).
with mrcfile.new("mrc_fei_extended_header.mrc", overwrite=True) as mrc:
    mrc.set_data(VALUES["float32"])
    mrc.voxel_size = VOXEL_NM * 10
    mrc.set_extended_header(np.arange(768, dtype=np.uint8))
    mrc.header.exttyp = b"FEI1"

# Big-endian data with the big-endian machine stamp.
with mrcfile.new("mrc_big_endian.mrc", overwrite=True) as mrc:
    mrc.set_data(VALUES["float32"].astype(">f4"))
    mrc.voxel_size = VOXEL_NM * 10

with mrcfile.open("mrc_big_endian.mrc") as mrc:
    assert mrc.header.machst.tobytes()[0] == 0x11, "expected a big-endian machine stamp"
with mrcfile.open("mrc_fei_extended_header.mrc") as mrc:
    assert int(mrc.header.nsymbt) == 768
