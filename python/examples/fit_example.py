"""Fit the bundled example (a synthetic NC1 at 2 nm, true D 2.7e-19 m²/s) from Python and plot its
alloying curve with matplotlib.

    pip install ./python matplotlib
    python python/examples/fit_example.py [--out curve.png] [--device auto|gpu|cpu]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import alloyfit

EXAMPLE = Path(__file__).resolve().parents[2] / "assets" / "nc1-2nm" / "experiment.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("curve.png"), help="the figure (PNG)")
    parser.add_argument("--device", default="auto", choices=["auto", "gpu", "cpu"])
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; give another --out")

    result = alloyfit.fit(EXAMPLE, device=args.device, progress=True)
    d, sd = result.d_m2s / 1e-19, result.sd_m2s / 1e-19
    print(f"{result.particle}: D = ({d:.3f} ± {sd:.3f})e-19 m²/s on {result.device}")

    curves = result.curves()
    figure, axes = plt.subplots(figsize=(6, 4), constrained_layout=True)
    axes.plot(result.times_s, result.alpha_measured, "ko", label="measured")
    axes.plot(curves["t_s"], curves["fit"], "b--", label=f"fit, D = ({d:.2f} ± {sd:.2f})e-19 m²/s")
    for name, colour in (("d=1e-19", "tab:red"), ("d=1e-18", "tab:green")):
        axes.plot(curves["t_s"], curves[name], color=colour, label=f"D = {name[2:]} m²/s")
    axes.set_xlabel("heating time (s)")
    axes.set_ylabel("degree of alloying α")
    axes.set_title(f"{result.particle}: degree of alloying")
    axes.legend()
    figure.savefig(args.out, dpi=150)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
