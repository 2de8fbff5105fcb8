"""`fit` and `quantify` from Python against the command line on the bundled example, and the
behaviour of long calls: the GIL released, progress reported, Ctrl-C honoured."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tomllib
from conftest import EXAMPLE

import alloyfit


@pytest.fixture(scope="module")
def python_fit(tmp_path_factory):
    out = tmp_path_factory.mktemp("python") / "fit"
    return alloyfit.fit(EXAMPLE, out=out, device="cpu")


def test_fit_gives_the_command_lines_d(python_fit, cli_fit):
    cli = json.loads((cli_fit / "report.json").read_text())
    # The same library on the same CPU path: the same bits, far inside the 1e-9 asked.
    assert abs(python_fit.d_m2s / cli["d_m2s"] - 1) < 1e-9
    assert abs(python_fit.sd_m2s / cli["sd_m2s"] - 1) < 1e-9
    assert python_fit.to_dict()["fit"]["alpha_fit"] == cli["fit"]["alpha_fit"]
    truth = json.loads((EXAMPLE.parent / "truth.json").read_text())["d_m2s"]
    # And it is the right D: scripts/check-fit.sh's 5% on the main job.
    assert abs(python_fit.d_m2s / truth - 1) < 0.05


def test_the_report_folder_is_the_command_lines(python_fit, cli_fit):
    written = sorted(p.name for p in python_fit.report_dir.iterdir())
    assert written == sorted(p.name for p in cli_fit.iterdir())
    assert (python_fit.report_dir / "curves.csv").read_text() == (
        cli_fit / "curves.csv"
    ).read_text()


def test_the_result_holds_the_curves(python_fit):
    result = python_fit
    assert result.times_s.shape == result.alpha_measured.shape == result.alpha_fit.shape
    assert result.residuals.shape == (np.count_nonzero(result.times_s > 0),)
    np.testing.assert_allclose(
        result.residuals, (result.alpha_measured - result.alpha_fit)[result.times_s > 0]
    )
    curves = result.curves()
    assert {"t_s", "fit", "d=1e-19", "d=1e-18"} <= curves.keys()
    assert result.to_dict()["d_m2s"] == result.d_m2s
    result.to_dict()["d_m2s"] = 0.0
    assert result.to_dict()["d_m2s"] == result.d_m2s, "to_dict must hand out a copy"


def test_a_dict_fits_as_its_file(python_fit):
    experiment = tomllib.loads(EXAMPLE.read_text())
    result = alloyfit.fit(experiment, base_dir=EXAMPLE.parent, device="cpu")
    assert result.d_m2s == python_fit.d_m2s
    assert result.report_dir is None


def test_quantify_gives_the_command_lines_curve(cli, tmp_path):
    out = tmp_path / "quantified"
    subprocess.run(
        [str(cli), "quantify", str(EXAMPLE), "--out", str(out), "--device", "cpu", "--quiet"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    assert alloyfit.quantify(EXAMPLE, device="cpu") == json.loads(
        (out / "quantify.json").read_text()
    )


def test_errors_carry_the_command_lines_messages(cli, tmp_path):
    broken = tmp_path / "experiment.toml"
    broken.write_text(
        EXAMPLE.read_text().replace('initial_state = "matched"', 'initial_state = "molten"')
    )
    printed = subprocess.run(
        [str(cli), "fit", str(broken), "--device", "cpu"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert printed.returncode == 1
    with pytest.raises(alloyfit.AlloyfitError) as raised:
        alloyfit.fit(broken, device="cpu")
    assert printed.stderr == f"error: {raised.value}\n"
    assert "molten" in str(raised.value)


def test_a_full_report_folder_is_not_overwritten(python_fit):
    with pytest.raises(alloyfit.AlloyfitError, match="force"):
        alloyfit.fit(EXAMPLE, out=python_fit.report_dir, device="cpu")
    assert (python_fit.report_dir / "report.json").is_file()


def test_a_bad_experiment_argument_is_refused():
    with pytest.raises(TypeError, match="experiment must be"):
        alloyfit.fit(42)
    with pytest.raises(ValueError, match="base_dir"):
        alloyfit.fit(EXAMPLE, base_dir=".")
    with pytest.raises(ValueError, match="mode"):
        alloyfit.fit(EXAMPLE, mode="fast", device="cpu")


def long_sirt(**options):
    """A SIRT of a few seconds on the CPU: 64 slices of 96², 71 angles, 400 iterations."""
    series = np.ones((71, 64, 96), np.float32)
    return alloyfit.sirt(series, np.arange(-70, 71, 2.0), 400, device="cpu", **options)


def test_ctrl_c_stops_a_long_call_at_its_next_step():
    # Python raises KeyboardInterrupt only where SIGINT was not ignored when it started, and a
    # shell ignores it for the jobs it starts in the background; the test sets the handler that
    # an interactive session has.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        steps = []
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        started = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            long_sirt(progress=lambda kind, text, done, total: steps.append(done))
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    # It stopped well before the 400 iterations, soon after the signal.
    assert 0 < len(steps) < 400
    assert time.monotonic() - started < 5.0


def test_an_exception_in_the_progress_callback_stops_the_work():
    def progress(kind, text, done, total):
        if kind == "step" and done == 3:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        alloyfit.sirt(
            np.ones((71, 4, 32), np.float32),
            np.arange(-70, 71, 2.0),
            50,
            device="cpu",
            progress=progress,
        )


def test_long_calls_release_the_gil():
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        started = time.monotonic()
        alloyfit.sirt(np.ones((71, 32, 96), np.float32), np.arange(-70, 71, 2.0), 600, device="cpu")
        elapsed = time.monotonic() - started
    finally:
        done.set()
        counter.join()
    # With the GIL held the counter would stop for the whole call; released, it ticks about once per
    # millisecond (sleep's granularity), so at least a quarter of that.
    assert elapsed > 0.2, "the call is too short to tell"
    assert ticks > 0.25 * elapsed * 1000


def test_kernels_on_the_gpu_match_the_cpu(gpu):
    """Runs on lavapipe in CI; fails without an adapter unless ALLOYFIT_SKIP_GPU_TESTS=1."""
    c0, mask = alloyfit.phantom("NC1", 4.0)
    angles = np.arange(-70, 71, 2.0)
    on_cpu = alloyfit.project(c0, angles, device="cpu")
    on_gpu = alloyfit.project(c0, angles, device=gpu)
    # f32 sums in another order: 1e-5 of the largest ray sum.
    assert np.abs(on_gpu - on_cpu).max() <= 1e-5 * on_cpu.max()
    rec_cpu = alloyfit.sirt(on_cpu, angles, 20, device="cpu")
    rec_gpu = alloyfit.sirt(on_cpu, angles, 20, device=gpu)
    assert np.abs(rec_gpu - rec_cpu).max() <= 1e-4 * rec_cpu.max()
    volumes = alloyfit.simulate(c0, mask, 2.7e-19, [0.0, 120.0], 4.0, device=gpu)
    np.testing.assert_allclose(
        volumes, alloyfit.simulate(c0, mask, 2.7e-19, [0.0, 120.0], 4.0, device="cpu"), atol=1e-5
    )


def test_the_example_script_fits_and_plots(tmp_path):
    script = EXAMPLE.parents[2] / "python" / "examples" / "fit_example.py"
    figure = tmp_path / "curve.png"
    printed = subprocess.run(
        [sys.executable, str(script), "--out", str(figure), "--device", "cpu"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "NC1: D = (2.7" in printed.stdout
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_an_interrupted_fit_leaves_no_report_folder(tmp_path):
    out = tmp_path / "fit"

    def interrupt(kind, text, done, total):
        if kind == "step":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        alloyfit.fit(EXAMPLE, out=out, device="cpu", progress=interrupt)
    assert list(tmp_path.iterdir()) == [], "nothing half-written may stay behind"
