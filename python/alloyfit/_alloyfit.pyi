"""Type stubs of the native module; call it through `alloyfit`, which checks and converts arrays."""

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Progress: TypeAlias = Callable[[str, str, int, int], None]

class AlloyfitError(RuntimeError): ...

TABLE_POINTS_DEFAULT: int
BETA_DEFAULT: float
SIRT_ITERATIONS_DEFAULT: int
PAD_VOXELS_DEFAULT: int
VERSION: str

def phantom(
    name: str, voxel_nm: float, pad_voxels: int, shell: str | None, core: str | None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]: ...
def simulate(
    c0: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    d_m2s: float,
    times_s: list[float],
    voxel_nm: float,
    beta: float,
    device: str,
    adapter: str | None,
    progress: Progress | None,
) -> npt.NDArray[np.float32]: ...
def project(
    volume: npt.NDArray[np.float32],
    angles_deg: list[float],
    n_det: int | None,
    device: str,
    adapter: str | None,
    progress: Progress | None,
) -> npt.NDArray[np.float32]: ...
def sirt(
    series: npt.NDArray[np.float32],
    angles_deg: list[float],
    iterations: int,
    relaxation: float,
    min_value: float | None,
    max_value: float | None,
    mask: npt.NDArray[np.bool_] | None,
    device: str,
    adapter: str | None,
    progress: Progress | None,
) -> npt.NDArray[np.float32]: ...
def quantify(
    path: str | None,
    json: str | None,
    base_dir: str,
    device: str,
    adapter: str | None,
    progress: Progress | None,
) -> str: ...
def fit(
    path: str | None,
    json: str | None,
    base_dir: str,
    out: str | None,
    force: bool,
    mode: str | None,
    table_points: int,
    device: str,
    adapter: str | None,
    progress: Progress | None,
) -> tuple[str, str | None]: ...
def devices(device: str, adapter: str | None) -> str: ...
