"""The cost of fitting from Python over the command line: the bundled example fitted alternately by
`alloyfit fit` (a process) and by `alloyfit.fit(...)` (a call in this interpreter, and a fresh
`python -c` process that imports the module), each writing the same report folder on the CPU.

    pip install ./python && cargo build --release
    python3 benches/python_overhead.py [--runs 5] [--cli target/release/alloyfit]

Prints the median wall time of each and the Python call's overhead in percent (docs/PERFORMANCE.md).
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import alloyfit

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "assets" / "nc1-2nm" / "experiment.toml"


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli", type=Path, default=REPO / "target" / "release" / "alloyfit")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="alloyfit-overhead-"))
    out = scratch / "fit"
    cli = [str(args.cli), "fit", str(EXAMPLE), "--out", str(out), "--force", "--device", "cpu",
           "--quiet"]
    script = (f"import alloyfit; alloyfit.fit({str(EXAMPLE)!r}, out={str(out)!r}, force=True, "
              "device='cpu')")
    times = {"cli": [], "call": [], "process": []}
    for run in range(args.runs):
        times["cli"].append(timed(lambda: subprocess.run(cli, check=True, stdout=subprocess.DEVNULL)))
        times["call"].append(timed(lambda: alloyfit.fit(EXAMPLE, out=out, force=True, device="cpu")))
        times["process"].append(timed(lambda: subprocess.run([sys.executable, "-c", script],
                                                             check=True)))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
              flush=True)
    shutil.rmtree(scratch)
    cli_s = statistics.median(times["cli"])
    for name in ("call", "process"):
        median = statistics.median(times[name])
        print(f"{name}: median {median:.2f} s against the CLI's {cli_s:.2f} s: "
              f"{100 * (median / cli_s - 1):+.1f}%")


if __name__ == "__main__":
    main()
