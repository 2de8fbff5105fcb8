"""Shared fixtures: the repository's paths, the command-line binary, and the GPU-test policy."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "assets" / "nc1-2nm" / "experiment.toml"


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `alloyfit` binary the Python results are compared with (ALLOYFIT_CLI, or the release build)."""
    binary = Path(os.environ.get("ALLOYFIT_CLI", REPO / "target" / "release" / "alloyfit"))
    if not binary.is_file():
        pytest.fail(
            f"{binary} does not exist: run `cargo build --release` first, or set ALLOYFIT_CLI"
        )
    return binary


@pytest.fixture(scope="session")
def cli_fit(cli, tmp_path_factory) -> Path:
    """The command line's report folder for the bundled example, fitted once per session on the CPU."""
    out = tmp_path_factory.mktemp("cli") / "fit"
    subprocess.run(
        [str(cli), "fit", str(EXAMPLE), "--out", str(out), "--device", "cpu", "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


def gpu_wanted() -> bool:
    """GPU tests run unless ALLOYFIT_SKIP_GPU_TESTS=1; without an adapter they fail, never pass."""
    return os.environ.get("ALLOYFIT_SKIP_GPU_TESTS") != "1"


@pytest.fixture
def gpu():
    if not gpu_wanted():
        pytest.skip("ALLOYFIT_SKIP_GPU_TESTS=1")
    return "gpu"


@pytest.fixture(scope="session")
def copy_example(tmp_path_factory):
    """A copy of the bundled example's folder (the tests may write beside it)."""
    folder = tmp_path_factory.mktemp("example") / "nc1-2nm"
    shutil.copytree(EXAMPLE.parent, folder)
    return folder
