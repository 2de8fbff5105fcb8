"""Type stubs of the native module; call it through `alloyfit`, which checks and converts arrays."""

from typing import Any, Callable, Optional

import numpy as np
import numpy.typing as npt

Progress = Callable[[str, str, int, int], None]

class AlloyfitError(RuntimeError): ...

TABLE_POINTS_DEFAULT: int
BETA_DEFAULT: float
SIRT_ITERATIONS_DEFAULT: int
PAD_VOXELS_DEFAULT: int
VERSION: str

def phantom(
    name: str, voxel_nm: float, pad_voxels: int, shell: Optional[str], core: Optional[str]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]: ...
def simulate(
    c0: npt.NDArray[np.float32],
    mask: npt.NDArray[np.bool_],
    d_m2s: float,
    times_s: list[float],
    voxel_nm: float,
    beta: float,
    device: str,
    adapter: Optional[str],
    progress: Optional[Progress],
) -> npt.NDArray[np.float32]: ...
def project(
    volume: npt.NDArray[np.float32],
    angles_deg: list[float],
    n_det: Optional[int],
    device: str,
    adapter: Optional[str],
    progress: Optional[Progress],
) -> npt.NDArray[np.float32]: ...
def sirt(
    series: npt.NDArray[np.float32],
    angles_deg: list[float],
    iterations: int,
    relaxation: float,
    min_value: Optional[float],
    max_value: Optional[float],
    mask: Optional[npt.NDArray[np.bool_]],
    device: str,
    adapter: Optional[str],
    progress: Optional[Progress],
) -> npt.NDArray[np.float32]: ...
def quantify(
    path: Optional[str],
    json: Optional[str],
    base_dir: str,
    device: str,
    adapter: Optional[str],
    progress: Optional[Progress],
) -> str: ...
def fit(
    path: Optional[str],
    json: Optional[str],
    base_dir: str,
    out: Optional[str],
    force: bool,
    mode: Optional[str],
    table_points: int,
    device: str,
    adapter: Optional[str],
    progress: Optional[Progress],
) -> tuple[str, Optional[str]]: ...
def devices(device: str, adapter: Optional[str]) -> str: ...
