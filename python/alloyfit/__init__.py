"""alloyfit in Python: measure Au/Ag interdiffusion in single nanoparticles, NumPy arrays in and out.

Volumes are float32 arrays indexed [k][i][j] in C order, k along the tilt axis; tilt series are
[angle][k][m]. The geometry is the ASTRA Toolbox ``parallel`` geometry (docs/METHOD.md, section 2):
one k-slice of a volume is ASTRA's 2-D volume geometry ``create_vol_geom(n_i, n_j)`` and one k-row of
a series its ``create_proj_geom('parallel', 1.0, n_det, radians(angles_deg))``.

Arrays of another real dtype, or not C-contiguous, are converted with one copy (float32 for values,
``> 0`` for masks, as mask files are read); arrays of the wrong dimension, complex or object arrays,
and non-finite values are refused with :class:`AlloyfitError` or
:class:`ValueError`/:class:`TypeError`. Every function that runs kernels takes ``device``
(``"auto"``: a hardware GPU if there is one, else the CPU path; ``"gpu"``: any adapter, software
ones included; ``"cpu"``), ``adapter`` (part of an adapter's name) and ``progress`` (``True`` prints
the command line's log lines on stderr; a callable gets ``(kind, text, done, total)`` with kind
``"line"``, ``"warning"`` or ``"step"``). Kernels run with the GIL released; Ctrl-C stops them at
their next progress step and raises KeyboardInterrupt. Warnings go to :mod:`warnings` as
:class:`AlloyfitWarning` whatever ``progress`` is.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from . import _alloyfit
from ._alloyfit import AlloyfitError

__all__ = [
    "AlloyfitError",
    "AlloyfitWarning",
    "FitResult",
    "devices",
    "fit",
    "phantom",
    "project",
    "quantify",
    "simulate",
    "sirt",
]

__version__ = _alloyfit.VERSION

ProgressArg = bool | Callable[[str, str, int, int], None] | None
ExperimentArg = str | os.PathLike[str] | Mapping[str, Any]


class AlloyfitWarning(UserWarning):
    """Something went wrong but did not stop the work: a fallback to the CPU, a doubtful fit."""


def _progress(progress: ProgressArg) -> Callable[[str, str, int, int], None]:
    """The callback the native module calls: warnings always, the rest as `progress` asks."""
    started = time.monotonic()

    def report(kind: str, text: str, done: int, total: int) -> None:
        if kind == "warning":
            warnings.warn(text, AlloyfitWarning, stacklevel=2)
        if callable(progress):
            progress(kind, text, done, total)
        elif progress and kind == "line":
            print(f"[{time.monotonic() - started:7.1f} s] {text}", file=sys.stderr)

    return report


def _real_array(array: Any, name: str, layout: str) -> np.ndarray:
    """`array` as 3-D C-ordered float32 (one copy if it is not already); `layout` names its axes."""
    values = np.asarray(array)
    if values.ndim != 3:
        raise ValueError(
            f"{name} must be a 3-D array {layout}, got {values.ndim}-D with shape {values.shape}"
        )
    if not (
        np.issubdtype(values.dtype, np.floating)
        or np.issubdtype(values.dtype, np.integer)
        or values.dtype == np.bool_
    ):
        raise TypeError(f"{name} must hold real numbers, got dtype {values.dtype}")
    return np.ascontiguousarray(values, dtype=np.float32)


def _volume(array: Any, name: str) -> np.ndarray:
    return _real_array(array, name, "[k][i][j]")


def _mask(array: Any, name: str) -> np.ndarray:
    """`array` as a C-ordered bool mask: True where it is above 0, as mask files are read."""
    values = np.asarray(array)
    if values.ndim != 3:
        raise ValueError(
            f"{name} must be a 3-D array [k][i][j], got {values.ndim}-D with shape {values.shape}"
        )
    if values.dtype == np.bool_:
        return np.ascontiguousarray(values)
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"{name} must be a bool or numeric mask, got dtype {values.dtype}")
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.isfinite(values)):
        raise ValueError(f"{name} has NaN or infinite voxels")
    return np.ascontiguousarray(values > 0)


def _angles(angles_deg: Sequence[float] | np.ndarray) -> list[float]:
    angles = np.asarray(angles_deg, dtype=np.float64)
    if angles.ndim != 1:
        raise ValueError(f"angles_deg must be 1-D, got shape {angles.shape}")
    return [float(a) for a in angles]


def _experiment(experiment: ExperimentArg, base_dir: os.PathLike[str] | str | None):
    """(path, json, base_dir) for the native calls: a file as itself, a dict as JSON."""
    if isinstance(experiment, Mapping):
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
        return None, json.dumps(experiment), str(folder)
    if isinstance(experiment, (str, os.PathLike)):
        if base_dir is not None:
            raise ValueError("base_dir is for experiment dicts; a file's paths are relative to it")
        return str(experiment), None, "."
    raise TypeError(
        f"experiment must be a path to an experiment.toml or a dict, got {type(experiment).__name__}"
    )


def phantom(
    name: str,
    voxel_nm: float = 1.0,
    *,
    pad_voxels: int = _alloyfit.PAD_VOXELS_DEFAULT,
    shell: str | None = None,
    core: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A core-shell particle voxelised at `voxel_nm`: (Au fraction float32, mask bool), [k][i][j].

    `name` is one of the paper's particles (NC1, NC2, NR1 ... NR4, cubes45/60/75, rod-small; see
    ``alloyfit phantom --list``) or ``"custom"`` with `shell` and `core` given as the command
    line's shape specs, e.g. ``shell="cube:edge=50"``, ``core="sphere:diameter=30"``.
    """
    if (shell is None) != (core is None):
        raise ValueError("a custom particle needs both shell and core")
    if shell is not None and name.lower() != "custom":
        raise ValueError("shell and core build a custom particle; use them with name='custom'")
    return _alloyfit.phantom(name, float(voxel_nm), int(pad_voxels), shell, core)


def simulate(
    c0: Any,
    mask: Any,
    d_m2s: float,
    times_s: Sequence[float],
    voxel_nm: float,
    *,
    beta: float = _alloyfit.BETA_DEFAULT,
    device: str = "auto",
    adapter: str | None = None,
    progress: ProgressArg = None,
) -> np.ndarray:
    """Diffuses the Au fraction `c0` inside `mask` with D = `d_m2s` (m²/s): float32 [t][k][i][j].

    `times_s` increase from 0 or more (s); `beta` = Δτ/h² is the step's stability fraction.
    """
    times = [float(t) for t in times_s]
    if not times:
        raise ValueError("times_s is empty")
    if not (np.isfinite(d_m2s) and d_m2s > 0):
        raise ValueError(f"d_m2s must be a positive diffusion coefficient in m²/s, got {d_m2s}")
    if any(not np.isfinite(t) or t < 0 for t in times) or any(b <= a for a, b in pairwise(times)):
        raise ValueError(f"times_s must be finite, not negative, and increase: got {times}")
    return _alloyfit.simulate(
        _volume(c0, "c0"),
        _mask(mask, "mask"),
        float(d_m2s),
        times,
        float(voxel_nm),
        float(beta),
        device,
        adapter,
        _progress(progress),
    )


def project(
    volume: Any,
    angles_deg: Sequence[float] | np.ndarray,
    *,
    n_det: int | None = None,
    device: str = "auto",
    adapter: str | None = None,
    progress: ProgressArg = None,
) -> np.ndarray:
    """The parallel-beam tilt series of `volume` ([k][i][j]): float32 [angle][k][m].

    Joseph's projector, as ASTRA's ``linear`` projector; the detector is `n_det` pixels of one
    voxel (default: the slice width).
    """
    return _alloyfit.project(
        _volume(volume, "volume"), _angles(angles_deg), n_det, device, adapter, _progress(progress)
    )


def sirt(
    series: Any,
    angles_deg: Sequence[float] | np.ndarray,
    iterations: int = _alloyfit.SIRT_ITERATIONS_DEFAULT,
    *,
    relaxation: float = 1.0,
    min_value: float | None = 0.0,
    max_value: float | None = None,
    mask: Any = None,
    device: str = "auto",
    adapter: str | None = None,
    progress: ProgressArg = None,
) -> np.ndarray:
    """SIRT of a tilt series ([angle][k][m]) onto square slices as wide as its detector: [k][i][j].

    The options are ASTRA's: `relaxation` (``Relaxation``), `min_value`/`max_value`
    (``MinConstraint``/``MaxConstraint``; None for none; alloyfit's default keeps x ≥ 0) and `mask`
    (``ReconstructionMaskId``: voxels outside stay 0). x starts at 0.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    return _alloyfit.sirt(
        _real_array(series, "series", "[angle][k][m]"),
        _angles(angles_deg),
        int(iterations),
        float(relaxation),
        None if min_value is None else float(min_value),
        None if max_value is None else float(max_value),
        None if mask is None else _mask(mask, "mask"),
        device,
        adapter,
        _progress(progress),
    )


def quantify(
    experiment: ExperimentArg,
    *,
    base_dir: os.PathLike[str] | str | None = None,
    device: str = "auto",
    adapter: str | None = None,
    progress: ProgressArg = None,
) -> dict[str, Any]:
    """The measured alloying curve of an experiment: quantify.json's content as a dict.

    `experiment` is an experiment.toml path or a dict of the same tables; a dict's data paths are
    relative to `base_dir` (default: the working directory).
    """
    path, text, folder = _experiment(experiment, base_dir)
    return json.loads(_alloyfit.quantify(path, text, folder, device, adapter, _progress(progress)))


@dataclass(frozen=True)
class FitResult:
    """A finished fit. `to_dict()` is report.json's content; the arrays are the curves' columns."""

    particle: str
    d_m2s: float
    sd_m2s: float
    mse: float
    times_s: np.ndarray
    alpha_measured: np.ndarray
    alpha_fit: np.ndarray
    residuals: np.ndarray
    """α measured − α fit at each time after 0."""
    warnings: list[str]
    device: str
    report_dir: Path | None
    """The report folder written (None unless `out` was given)."""
    _report: dict[str, Any] = field(repr=False)

    @staticmethod
    def _from_report(report: dict[str, Any], report_dir: str | None) -> FitResult:
        outcome = report["fit"]
        return FitResult(
            particle=report["particle"],
            d_m2s=report["d_m2s"],
            sd_m2s=report["sd_m2s"],
            mse=report["mse"],
            times_s=np.asarray(outcome["times_s"], dtype=np.float64),
            alpha_measured=np.asarray(outcome["alpha_measured"], dtype=np.float64),
            alpha_fit=np.asarray(outcome["alpha_fit"], dtype=np.float64),
            residuals=np.asarray(outcome["residuals"], dtype=np.float64),
            warnings=list(outcome["warnings"]),
            device=report["device"],
            report_dir=None if report_dir is None else Path(report_dir),
            _report=report,
        )

    def curves(self) -> dict[str, np.ndarray]:
        """Dense curves for plots: ``t_s``, ``fit`` and ``d=<D>`` for each reference D."""
        sampled = self._report["fit"].get("sampled_curves")
        if sampled is None:
            return {"t_s": self.times_s, "fit": self.alpha_fit}
        curves = {"t_s": np.asarray(sampled["times_s"]), "fit": np.asarray(sampled["fit"])}
        for d_m2s, alpha in sampled["references"]:
            curves[f"d={d_m2s:g}"] = np.asarray(alpha)
        return curves

    def to_dict(self) -> dict[str, Any]:
        """report.json's content (a copy)."""
        return copy.deepcopy(self._report)


def fit(
    experiment: ExperimentArg,
    *,
    out: os.PathLike[str] | str | None = None,
    force: bool = False,
    mode: str | None = None,
    table_points: int = _alloyfit.TABLE_POINTS_DEFAULT,
    base_dir: os.PathLike[str] | str | None = None,
    device: str = "auto",
    adapter: str | None = None,
    progress: ProgressArg = None,
) -> FitResult:
    """Fits D ± SD to an experiment, as ``alloyfit fit`` does, and returns the result.

    `experiment` is an experiment.toml path or a dict of the same tables (data paths relative to
    `base_dir`). With `out`, the report folder is written there (report.json, curves.csv, plots,
    slices.png), refusing a non-empty folder unless `force`; without it nothing is written and
    slices.png is not drawn. `mode` overrides fit.mode ("table" or "exact").
    """
    path, text, folder = _experiment(experiment, base_dir)
    report, written = _alloyfit.fit(
        path,
        text,
        folder,
        None if out is None else str(out),
        bool(force),
        mode,
        int(table_points),
        device,
        adapter,
        _progress(progress),
    )
    return FitResult._from_report(json.loads(report), written)


def devices(device: str = "auto", adapter: str | None = None) -> dict[str, Any]:
    """The GPU adapters found, and the backend `device` would use: ``alloyfit devices --json``."""
    return json.loads(_alloyfit.devices(device, adapter))
