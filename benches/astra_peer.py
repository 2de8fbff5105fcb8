"""Times the ASTRA Toolbox CPU `linear` (Joseph) projector on the workload of benches/projector.rs:
an n×n slice, 71 angles from -70° to +70°, forward and back projection, in voxel·angle updates per
second (slices × n² × angles per second). ASTRA's CPU projectors are 2D, so a volume is n_k slices.

    pip install astra-toolbox numpy
    python3 benches/astra_peer.py 128 256
"""

import sys
import time

import astra
import numpy as np


def measure(n, repeats=3):
    angles = np.deg2rad(np.arange(-70, 71, 2, dtype=np.float64))
    vol_geom = astra.create_vol_geom(n, n)
    proj_geom = astra.create_proj_geom("parallel", 1.0, n, angles)
    projector = astra.create_projector("linear", proj_geom, vol_geom)
    image = np.random.default_rng(0).random((n, n), dtype=np.float32)
    sinogram = np.random.default_rng(1).random((len(angles), n), dtype=np.float32)
    updates = n * n * len(angles)
    results = {}
    for name, run in [
        ("forward", lambda: astra.create_sino(image, projector)),
        ("back", lambda: astra.create_backprojection(sinogram, projector)),
    ]:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            sino_id, _ = run()
            best = min(best, time.perf_counter() - start)
            astra.data2d.delete(sino_id)
        results[name] = updates / best
    astra.projector.delete(projector)
    return results


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [128, 256]:
        r = measure(size)
        print(
            f"ASTRA CPU linear, {size}x{size} slice, 71 angles: "
            f"forward {r['forward'] / 1e6:.1f} M voxel·angle/s, back {r['back'] / 1e6:.1f} M voxel·angle/s"
        )
