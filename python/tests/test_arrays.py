"""NumPy arrays in and out: shapes, dtypes and order, the documented conversions, and refusals."""

import numpy as np
import pytest

import alloyfit

ANGLES = np.arange(-70, 71, 10.0)


def test_phantom_gives_float32_and_bool_in_c_order():
    c0, mask = alloyfit.phantom("NC1", 2.0)
    assert c0.dtype == np.float32 and mask.dtype == np.bool_
    assert c0.shape == mask.shape and c0.flags.c_contiguous and mask.flags.c_contiguous
    # The Au fraction lies in [0, 1] (surface voxels are sub-sampled) and is 0 outside the particle.
    assert c0.min() >= 0.0 and c0.max() == 1.0
    assert not np.any(c0[~mask])
    # NC1's Au fraction is 22.3% (Table 2); at 2 nm the voxelisation keeps it within the 2% that
    # `alloyfit phantom` warns beyond.
    assert abs(c0[mask].mean() / 0.223 - 1) < 0.02


def test_custom_phantom_and_its_refusals():
    c0, mask = alloyfit.phantom("custom", 2.0, shell="cube:edge=20", core="sphere:diameter=10")
    # The shell's volume and the core's share of it (pi/6 · 10³ / 20³ = 6.5%), voxelised at 2 nm.
    assert abs(mask.sum() * 8.0 / 20.0**3 - 1) < 0.05
    assert abs(c0[mask].mean() / (np.pi / 6 * 10**3 / 20**3) - 1) < 0.05
    with pytest.raises(ValueError, match="both shell and core"):
        alloyfit.phantom("custom", 2.0, shell="cube:edge=20")
    with pytest.raises(alloyfit.AlloyfitError, match="NC9"):
        alloyfit.phantom("NC9", 2.0)


def test_the_series_round_trips_through_shape_and_layout():
    k, i, j = np.meshgrid(np.arange(3), np.arange(24), np.arange(24), indexing="ij")
    # A Gaussian blob (sigma 2 voxels) in slice k = 1 only, its peak at voxel (i, j) = (11, 6).
    volume = np.exp(-((i - 11) ** 2 + (j - 6) ** 2) / 8.0) * (k == 1)
    series = alloyfit.project(volume, ANGLES, device="cpu")
    assert series.shape == (len(ANGLES), 3, 24) and series.dtype == np.float32
    # Only row k = 1 holds anything, and every projection carries the blob's mass: Joseph's
    # linear interpolation of a blob this smooth is exact to 1e-3 (5e-4 measured at ±70°).
    assert not series[:, [0, 2], :].any()
    np.testing.assert_allclose(series[:, 1, :].sum(axis=1), volume.sum(), rtol=1e-3)
    reconstruction = alloyfit.sirt(series, ANGLES, 20, device="cpu")
    assert reconstruction.shape == volume.shape and reconstruction.dtype == np.float32
    assert np.unravel_index(reconstruction.argmax(), volume.shape) == (1, 11, 6)


def test_other_dtypes_and_orders_are_converted_with_one_copy():
    rng = np.random.default_rng(3)
    volume = rng.random((4, 12, 12)).astype(np.float32)
    reference = alloyfit.project(volume, ANGLES, device="cpu")
    fortran = np.asfortranarray(volume)
    as_float64 = volume.astype(np.float64)
    transposed_view = np.ascontiguousarray(volume.transpose(2, 1, 0)).transpose(2, 1, 0)
    for variant in (fortran, as_float64, transposed_view):
        np.testing.assert_array_equal(alloyfit.project(variant, ANGLES, device="cpu"), reference)


def test_simulate_conserves_the_au_and_returns_one_volume_per_time():
    c0, mask = alloyfit.phantom("NC1", 4.0)
    times = [0.0, 60.0, 600.0]
    volumes = alloyfit.simulate(c0, mask, 2.7e-19, times, 4.0, device="cpu")
    assert volumes.shape == (len(times),) + c0.shape and volumes.dtype == np.float32
    np.testing.assert_array_equal(volumes[0], c0)
    totals = volumes.sum(axis=(1, 2, 3), dtype=np.float64)
    # Fick's law with no flux through the surface keeps the Au; f32 sums keep it to 1e-5.
    np.testing.assert_allclose(totals, totals[0], rtol=1e-5)
    # Diffusion narrows the spread of the composition inside the particle.
    spreads = [v[mask].std() for v in volumes]
    assert spreads[0] > spreads[1] > spreads[2]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: alloyfit.project(np.zeros((4, 4)), ANGLES), ValueError, "3-D array"),
        (lambda: alloyfit.project(np.zeros((2, 4, 4), complex), ANGLES), TypeError, "real numbers"),
        (lambda: alloyfit.project(np.zeros((2, 4, 4), object), ANGLES), TypeError, "real numbers"),
        (
            lambda: alloyfit.project(np.full((2, 4, 4), np.nan), ANGLES, device="cpu"),
            alloyfit.AlloyfitError,
            "finite",
        ),
        (lambda: alloyfit.project(np.zeros((2, 4, 4)), [[0.0]]), ValueError, "1-D"),
        (lambda: alloyfit.project(np.zeros((2, 4, 4)), ANGLES, device="tpu"), ValueError, "device"),
        (
            lambda: alloyfit.sirt(np.zeros((len(ANGLES) + 1, 2, 8)), ANGLES, 5, device="cpu"),
            alloyfit.AlloyfitError,
            "16 projections of 2 × 8 pixels, but 15 tilt angles",
        ),
        (
            lambda: alloyfit.sirt(np.zeros((2, len(ANGLES), 8)), ANGLES, 5, device="cpu"),
            alloyfit.AlloyfitError,
            r"one image per slice \(\[k\]\[angle\]\[m\]\)",
        ),
        (
            lambda: alloyfit.sirt(np.full((len(ANGLES), 2, 8), np.inf), ANGLES, 5, device="cpu"),
            alloyfit.AlloyfitError,
            "finite numbers",
        ),
        (lambda: alloyfit.sirt(np.zeros((len(ANGLES), 2, 8)), ANGLES, 0), ValueError, "iterations"),
        (
            lambda: alloyfit.sirt(
                np.zeros((len(ANGLES), 2, 8)), ANGLES, 5, mask=np.ones((2, 8, 7)), device="cpu"
            ),
            alloyfit.AlloyfitError,
            "mask shape",
        ),
        (
            lambda: alloyfit.simulate(np.zeros((4, 4, 4)), np.ones((4, 4, 4)), -1.0, [0.0], 1.0),
            ValueError,
            "d_m2s",
        ),
        (
            lambda: alloyfit.simulate(
                np.zeros((4, 4, 4)), np.ones((4, 4, 4)), 1e-19, [5.0, 1.0], 1.0
            ),
            ValueError,
            "increase",
        ),
        (
            lambda: alloyfit.simulate(
                np.zeros((4, 4, 4)), np.ones((4, 4, 5)), 1e-19, [0.0], 1.0, device="cpu"
            ),
            alloyfit.AlloyfitError,
            "mask",
        ),
        (
            lambda: alloyfit.simulate(
                np.zeros((4, 4, 4)), np.ones((4, 4, 4)), 1e-19, [0.0], 1.0, beta=0.5, device="cpu"
            ),
            alloyfit.AlloyfitError,
            "beta",
        ),
    ],
)
def test_bad_arrays_and_arguments_raise(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_devices_lists_the_adapters_and_the_choice():
    found = alloyfit.devices(device="cpu")
    assert found["selected"].startswith("cpu: ")
    assert isinstance(found["adapters"], list)


def test_a_numeric_mask_is_inside_above_zero_as_mask_files_are():
    c0, mask = alloyfit.phantom("NC1", 4.0)
    numeric = np.where(mask, 1.0, -1.0)
    np.testing.assert_array_equal(
        alloyfit.simulate(c0, numeric, 2.7e-19, [0.0, 60.0], 4.0, device="cpu"),
        alloyfit.simulate(c0, mask, 2.7e-19, [0.0, 60.0], 4.0, device="cpu"),
    )
