"""The peer of `alloyfit fit`: one experiment fitted the way a plain NumPy/SciPy + ASTRA script
does it, to time alloyfit against (docs/PERFORMANCE.md, "The fit at the cost of one fit").

It reads the experiment's reconstructions (TIFF), segments the t = 0 one (Otsu, largest
component), makes the two-phase start state (the brightest c̄·N voxels are Au), and measures the
spread (std/mean in the mask) of every reconstruction. Each evaluation of the objective then
simulates the whole curve again for one D: explicit 7-point diffusion in the mask (no flux through
its surface, β = fit.beta), and at every time the intensity 1 + (r − 1)·C, a Gaussian blur, and per
slice an ASTRA forward projection (CPU `linear`) and ASTRA SIRT with the experiment's iterations and
a non-negativity constraint. α is corrected with the simulated fully alloyed particle's spread, as
alloyfit's default; no noise is simulated. SciPy's Brent minimises the MSE over log10 D, from
the bracket [1e-19, 1e-18] m²/s.

    pip install numpy scipy astra-toolbox tifffile
    python3 benches/peer_fit.py assets/nc1-2nm/experiment.toml

Prints D, the evaluations and the wall time.
"""

import math
import pathlib
import sys
import time
import tomllib

import astra
import numpy as np
import tifffile
from scipy import ndimage, optimize

NM2_PER_M2 = 1e18


def parse_tilts(spec):
    start, stop, step = (float(x) for x in spec.split(":"))
    return np.arange(start, stop + step / 2, step)


def otsu(values):
    hist, edges = np.histogram(values, bins=256)
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * centres)
    total, total_mean = weight[-1], mean[-1]
    between = np.zeros_like(centres)
    inside = (weight > 0) & (weight < total)
    w0, m0 = weight[inside], mean[inside]
    between[inside] = (total_mean * w0 / total - m0) ** 2 / (w0 * (total - w0))
    return centres[np.argmax(between)]


def segment(volume):
    labels, count = ndimage.label(volume > otsu(volume))
    sizes = ndimage.sum(np.ones_like(volume), labels, range(1, count + 1))
    return ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))


def spread(volume, mask):
    values = volume[mask].astype(np.float64)
    return values.std() / values.mean()


class Diffusion:
    """Explicit FTCS steps of the 7-point stencil inside `mask`, no flux through its surface."""

    def __init__(self, composition, mask, voxel_nm, beta):
        self.c = np.where(mask, composition, 0.0).astype(np.float32)
        self.mask = mask
        self.voxel_nm = voxel_nm
        self.beta = beta
        self.tau_nm2 = 0.0
        padded = np.pad(mask, 1)
        self.neighbours = [
            np.roll(padded, shift, axis)[1:-1, 1:-1, 1:-1] & mask
            for axis in range(3)
            for shift in (1, -1)
        ]

    def advance_to(self, tau_nm2):
        remaining = tau_nm2 - self.tau_nm2
        if remaining <= 0:
            return
        h2 = self.voxel_nm**2
        steps = math.ceil(remaining / (self.beta * h2))
        beta = remaining / (steps * h2)
        for _ in range(steps):
            padded = np.pad(self.c, 1)
            laplacian = np.zeros_like(self.c)
            n = 0
            for axis in range(3):
                for shift in (1, -1):
                    neighbour = np.roll(padded, shift, axis)[1:-1, 1:-1, 1:-1]
                    laplacian += np.where(self.neighbours[n], neighbour - self.c, 0.0)
                    n += 1
            self.c += beta * laplacian
        self.tau_nm2 = tau_nm2


class Chain:
    """Blur, then per slice ASTRA projection and SIRT, then the spread in `mask`."""

    def __init__(self, shape, angles_deg, blur_voxels, iterations, contrast):
        _, n_i, n_j = shape
        self.vol_geom = astra.create_vol_geom(n_i, n_j)
        proj_geom = astra.create_proj_geom("parallel", 1.0, n_j, np.deg2rad(angles_deg))
        self.projector = astra.create_projector("linear", proj_geom, self.vol_geom)
        self.blur_voxels = blur_voxels
        self.iterations = iterations
        self.contrast = contrast

    def reconstruct(self, composition, mask):
        intensity = np.where(mask, 1.0 + (self.contrast - 1.0) * composition, 0.0)
        if self.blur_voxels > 0:
            intensity = ndimage.gaussian_filter(
                intensity, self.blur_voxels, mode="constant", truncate=5.0
            )
        volume = np.empty_like(intensity, dtype=np.float32)
        for k, slice_ in enumerate(intensity):
            sinogram_id, _ = astra.create_sino(slice_.astype(np.float32), self.projector)
            reconstruction_id = astra.data2d.create("-vol", self.vol_geom, 0.0)
            config = astra.astra_dict("SIRT")
            config["ProjectorId"] = self.projector
            config["ProjectionDataId"] = sinogram_id
            config["ReconstructionDataId"] = reconstruction_id
            config["option"] = {"MinConstraint": 0.0}
            algorithm = astra.algorithm.create(config)
            astra.algorithm.run(algorithm, self.iterations)
            volume[k] = astra.data2d.get(reconstruction_id)
            astra.algorithm.delete(algorithm)
            astra.data2d.delete([sinogram_id, reconstruction_id])
        return volume

    def spread(self, composition, mask):
        return spread(self.reconstruct(composition, mask), mask)


def main(path):
    started = time.perf_counter()
    path = pathlib.Path(path)
    experiment = tomllib.loads(path.read_text())
    particle, data = experiment["particle"], experiment["data"]
    imaging, settings = experiment["imaging"], experiment["fit"]
    voxel_nm, mean_au = particle["voxel_nm"], particle["mean_au_fraction"]
    times_s = np.array(data["times_s"])
    volumes = [tifffile.imread(path.parent / name).astype(np.float32) for name in data["reconstructions"]]
    mask = segment(volumes[0])
    measured = np.array([spread(v, mask) for v in volumes])

    inside = volumes[0][mask]
    au_voxels = round(mean_au * inside.size)
    start = np.zeros_like(volumes[0])
    start[mask] = (inside >= np.sort(inside)[::-1][au_voxels - 1]).astype(np.float32)
    chain = Chain(
        volumes[0].shape,
        parse_tilts(imaging["tilts"]),
        imaging["blur_sigma_nm"] / voxel_nm,
        imaging["sirt_iterations"],
        imaging["contrast_ratio"],
    )
    spread_initial = chain.spread(start, mask)
    spread_alloyed = chain.spread(np.where(mask, start[mask].mean(), 0.0), mask)
    alpha_measured = (measured[0] - measured) / (measured[0] - spread_alloyed)
    fitted = times_s > 0

    evaluations = []

    def mse(log10_d):
        diffusion = Diffusion(start, mask, voxel_nm, settings["beta"])
        simulated = []
        for t in times_s[fitted]:
            diffusion.advance_to(10**log10_d * t * NM2_PER_M2)
            simulated.append(chain.spread(diffusion.c, mask))
        alpha = (spread_initial - np.array(simulated)) / (spread_initial - spread_alloyed)
        value = float(np.mean((alpha_measured[fitted] - alpha) ** 2))
        evaluations.append((log10_d, value))
        print(f"  log10 D = {log10_d:.4f}: MSE {value:.3e} ({time.perf_counter() - started:.0f} s)", flush=True)
        return value

    # Brent from the bracket the paper's reference curves span (1e-19 and 1e-18 m²/s), to about
    # 1e-3 in log10 D.
    result = optimize.minimize_scalar(mse, bracket=(-19.0, -18.0), method="brent", tol=5e-5)
    elapsed = time.perf_counter() - started
    print(
        f"peer: D = {10**result.x:.4e} m²/s, MSE {result.fun:.2e}, {len(evaluations)} evaluations, "
        f"{elapsed:.0f} s"
    )


if __name__ == "__main__":
    main(sys.argv[1])
