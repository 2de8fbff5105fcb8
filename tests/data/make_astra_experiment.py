"""Writes `astra-cube/`: a synthetic experiment that alloyfit did not make, for tests/astra.rs.

Nothing in it comes from alloyfit's grid, diffusion, projector or SIRT (the inverse crime of
tomography, when the data are made by the code that fits them):
- the particle, a 40 nm Ag cube turned 15° about the tilt axis around a 28 nm Au sphere (the
  defaults), is
  voxelised and diffused on a grid of 1 nm, twice as fine as the 2 nm reconstructions;
- its intensity 1 + (r − 1)·C is blurred (σ = 2 nm) and projected on that grid by ASTRA's CPU
  `linear` projector, at −70° … +70° in 2° steps, and the projections are binned 2 × 2 to the
  2 nm detector pixel (rows along the tilt axis and detector pixels);
- Poisson noise is drawn at 10 counts per 2 nm of Ag (numpy, seed 2026);
- ASTRA SIRT (CPU, `linear`, non-negativity, 30 iterations, from zero) reconstructs each k-slice
  on the 2 nm grid.
The diffusion is explicit FTCS on the 7-point stencil inside the particle, no flux through its
surface, at a step of 0.1 of the 1 nm grid's stability limit (β = 0.1). The tilt geometry is
docs/METHOD.md §2's: ASTRA `parallel`, angles in radians, one detector pixel per voxel.

Run from this folder (seconds); it overwrites astra-cube/:

    pip install numpy scipy astra-toolbox tifffile
    python3 make_astra_experiment.py

The options make larger cases elsewhere (docs/PERFORMANCE.md, "Data alloyfit did not make"), e.g.
an NC1-sized cube at the paper's times:

    python3 make_astra_experiment.py --out /tmp/astra-nc1 --grid 36,48,48 --edge-nm 58 \
        --core-nm 36 --d 2.7e-19 --times 0,15,30,45,60,90,120,180,300,600

`astra-tight/` is the same particle in a box whose width its projection outgrows at some tilts,
recorded on a detector of 40 pixels (80 nm), as a microscope's is wider than the box kept:

    python3 make_astra_experiment.py --out astra-tight --grid 26,26,26 --detector 40 --seed 1
"""

import argparse
import json
import math
import pathlib

import astra
import numpy as np
import tifffile
from scipy import ndimage

VOXEL_NM = 2.0
FINE = 2  # fine voxels per output voxel along each axis
CUBE_TURN_DEG = 15.0
CONTRAST = 2.4
BLUR_SIGMA_NM = 2.0
TILTS_DEG = np.arange(-70.0, 70.0 + 1.0, 2.0)
DOSE = 10.0  # counts per unit projected intensity over one 2 nm voxel
SIRT_ITERATIONS = 30
SEED = 2026
BETA = 0.1
NM2_PER_M2 = 1e18


def particle(shape, edge_nm, core_nm):
    """The mask and the Au fraction (0 or 1) on the fine grid."""
    h = VOXEL_NM / FINE
    nk, ni, nj = (n * FINE for n in shape)
    k, i, j = np.indices((nk, ni, nj))
    z = (k + 0.5 - nk / 2) * h
    y = (ni / 2 - i - 0.5) * h
    x = (j + 0.5 - nj / 2) * h
    turn = math.radians(CUBE_TURN_DEG)
    u = x * math.cos(turn) + y * math.sin(turn)
    v = -x * math.sin(turn) + y * math.cos(turn)
    half = edge_nm / 2
    mask = (np.abs(u) <= half) & (np.abs(v) <= half) & (np.abs(z) <= half)
    core = x**2 + y**2 + z**2 <= (core_nm / 2) ** 2
    return mask, (core & mask).astype(np.float64)


def diffuse(composition, mask, tau_nm2):
    """FTCS steps of ∂C/∂τ = ∇²C inside `mask`, to `tau_nm2`, no flux through the surface."""
    h2 = (VOXEL_NM / FINE) ** 2
    steps = math.ceil(tau_nm2 / (BETA * h2))
    if steps == 0:
        return composition
    rate = tau_nm2 / (steps * h2)
    c = composition.copy()
    for _ in range(steps):
        flow = np.zeros_like(c)
        for axis in range(3):
            lower = [slice(None)] * 3
            upper = [slice(None)] * 3
            lower[axis] = slice(None, -1)
            upper[axis] = slice(1, None)
            lower, upper = tuple(lower), tuple(upper)
            both = mask[lower] & mask[upper]
            exchange = np.where(both, c[upper] - c[lower], 0.0)
            flow[lower] += exchange
            flow[upper] -= exchange
        c += rate * flow
    return c


def projections(intensity, detector):
    """The fine grid's projections on `detector` 2 nm pixels, binned from the fine grid's:
    [k][angle][m], in 2 nm units."""
    nk_f, ni_f, nj_f = intensity.shape
    vol_geom = astra.create_vol_geom(ni_f, nj_f)
    proj_geom = astra.create_proj_geom("parallel", 1.0, detector * FINE, np.deg2rad(TILTS_DEG))
    projector = astra.create_projector("linear", proj_geom, vol_geom)
    fine = np.empty((nk_f, len(TILTS_DEG), detector * FINE), dtype=np.float64)
    for k, slice_ in enumerate(intensity):
        sinogram_id, sinogram = astra.create_sino(slice_.astype(np.float32), projector)
        fine[k] = sinogram
        astra.data2d.delete(sinogram_id)
    astra.projector.delete(projector)
    binned = fine.reshape(nk_f // FINE, FINE, len(TILTS_DEG), detector, FINE).mean(axis=(1, 4))
    # The fine line integrals count 1 nm voxels; the output's count 2 nm ones.
    return binned / FINE


def sirt(series, shape):
    """ASTRA SIRT of each k-slice of `series` on the output grid of `shape`."""
    nk, ni, nj = shape
    vol_geom = astra.create_vol_geom(ni, nj)
    proj_geom = astra.create_proj_geom("parallel", 1.0, series.shape[2], np.deg2rad(TILTS_DEG))
    projector = astra.create_projector("linear", proj_geom, vol_geom)
    volume = np.empty(shape, dtype=np.float32)
    for k in range(nk):
        sinogram_id = astra.data2d.create("-sino", proj_geom, series[k].astype(np.float32))
        reconstruction_id = astra.data2d.create("-vol", vol_geom, 0.0)
        config = astra.astra_dict("SIRT")
        config["ProjectorId"] = projector
        config["ProjectionDataId"] = sinogram_id
        config["ReconstructionDataId"] = reconstruction_id
        config["option"] = {"MinConstraint": 0.0}
        algorithm = astra.algorithm.create(config)
        astra.algorithm.run(algorithm, SIRT_ITERATIONS)
        volume[k] = astra.data2d.get(reconstruction_id)
        astra.algorithm.delete(algorithm)
        astra.data2d.delete([sinogram_id, reconstruction_id])
    astra.projector.delete(projector)
    return volume


def acquire(composition, mask, shape, detector, rng):
    intensity = np.where(mask, 1.0 + (CONTRAST - 1.0) * composition, 0.0)
    blurred = ndimage.gaussian_filter(
        intensity, BLUR_SIGMA_NM * FINE / VOXEL_NM, mode="constant", truncate=5.0
    )
    series = projections(blurred, detector)
    noisy = rng.poisson(DOSE * np.clip(series, 0.0, None)) / DOSE
    return sirt(noisy, shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).parent / "astra-cube")
    parser.add_argument("--grid", default="26,34,34", help="k,i,j of the 2 nm reconstructions")
    parser.add_argument("--edge-nm", type=float, default=40.0, help="the Ag cube's edge")
    parser.add_argument("--core-nm", type=float, default=28.0, help="the Au sphere's diameter")
    parser.add_argument("--d", type=float, default=2.0e-19, help="true D, m²/s")
    parser.add_argument("--times", default="0,30,90,240,600", help="heating times, s")
    parser.add_argument(
        "--detector", type=int, help="detector pixels, 2 nm each (default: as many as a slice is wide)"
    )
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the Poisson noise")
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.grid.split(","))
    detector = args.detector or shape[2]
    times_s = [float(t) for t in args.times.split(",")]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    mask, composition = particle(shape, args.edge_nm, args.core_nm)
    mean_au = float(composition[mask].mean())
    names = []
    tau_done = 0.0
    for n, t_s in enumerate(times_s):
        tau_nm2 = args.d * t_s * NM2_PER_M2
        composition = diffuse(composition, mask, tau_nm2 - tau_done)
        tau_done = tau_nm2
        name = f"recon_{n:02}_t{t_s:g}s.tif"
        tifffile.imwrite(out / name, acquire(composition, mask, shape, detector, rng))
        names.append(name)
        print(f"{name}: tau {tau_nm2:g} nm²")
    alloyed = np.where(mask, mean_au, 0.0)
    tifffile.imwrite(out / "recon_alloyed.tif", acquire(alloyed, mask, shape, detector, rng))

    quoted = ", ".join(f'"{name}"' for name in names)
    (out / "experiment.toml").write_text(
        "# Made by tests/data/make_astra_experiment.py with ASTRA, not alloyfit; truth.json holds\n"
        "# the true D.\n"
        "[particle]\n"
        'name = "astra-cube"\n'
        f"voxel_nm = {VOXEL_NM}\n"
        f"mean_au_fraction = {mean_au!r}\n\n"
        "[data]\n"
        f"times_s = [{', '.join(repr(t) for t in times_s)}]\n"
        f"reconstructions = [{quoted}]\n"
        'noise_reconstruction = "recon_alloyed.tif"\n\n'
        "[imaging]\n"
        f"contrast_ratio = {CONTRAST}\n"
        f"blur_sigma_nm = {BLUR_SIGMA_NM}\n"
        'tilts = "-70:70:2"\n'
        f"sirt_iterations = {SIRT_ITERATIONS}\n"
        + (f"detector_pixels = {detector}\n" if args.detector else "")
    )
    truth = {
        "made_by": "tests/data/make_astra_experiment.py",
        "d_m2s": args.d,
        "voxel_nm": VOXEL_NM,
        "fine_voxel_nm": VOXEL_NM / FINE,
        "times_s": times_s,
        "grid": list(shape),
        "detector_pixels": detector,
        "edge_nm": args.edge_nm,
        "core_nm": args.core_nm,
        "mean_au_fraction": mean_au,
        "dose": DOSE,
        "seed": args.seed,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")


if __name__ == "__main__":
    main()
