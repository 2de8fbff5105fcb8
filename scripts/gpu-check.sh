#!/usr/bin/env bash
# The device check: one run on a machine with a GPU, under 8 minutes on a real one, that
#   1. runs every test that uses the GPU (against the CPU twins),
#   2. times the diffusion stencil (share of the device's copy bandwidth) and the projectors
#      (G voxel·angle updates/s at 71 angles),
#   3. fits a synthetic NC1 on the GPU (the default fit, with the start-mask search), and
#   4. fits it once more with one start mask on the GPU and on the CPU, comparing D and α,
# then prints one Markdown table for docs/PERFORMANCE.md.
#
#   scripts/gpu-check.sh [full|small]
#
# full (default): 256³ stencil and projector, NC1 at 1 nm with 50 SIRT iterations.
# small: 64³ and NC1 at 4 nm, 5 SIRT iterations, 3 times: about a minute on lavapipe; CI runs it.
# ALLOYFIT_BENCH_ADAPTER / ALLOYFIT_TEST_ADAPTER pick an adapter by name.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case $mode in
    full) sizes=256,256 voxel_nm=1 iterations=50 times=0,15,30,45,60,90,120,180,300,600 ;;
    small) sizes=64,64 voxel_nm=4 iterations=5 times=0,60,600 ;;
    *) echo "usage: scripts/gpu-check.sh [full|small]" >&2; exit 2 ;;
esac
# Mesa's window-system layer complains without one; compute needs no display.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows="$work/rows"
: >"$rows"
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3" >>"$rows"; }

echo "== building"
cargo build --release --quiet --bins --tests --bench gpu_check
bin=target/release/alloyfit

echo "== GPU tests"
gpu_tests=(gpu_kernels gpu_submits gpu_faults projector diffusion sirt imaging quantify)
test_args=()
for t in "${gpu_tests[@]}"; do test_args+=(--test "$t"); done
test_log="$work/tests.log"
if ! cargo test --release --quiet "${test_args[@]}" >"$test_log" 2>&1; then
    cat "$test_log"
    echo "GPU tests failed" >&2
    exit 1
fi
passed=$(grep -o '[0-9]* passed' "$test_log" | awk '{n += $1} END {print n}')
row "GPU tests (${gpu_tests[*]})" "$passed passed, 0 failed" "every GPU kernel against its CPU twin"

echo "== kernel timings"
ALLOYFIT_BENCH_SIZES=$sizes cargo bench --quiet --bench gpu_check 2>/dev/null >"$work/kernels"
while IFS='|' read -r name value unit note; do
    row "$name" "$value${unit:+ $unit}" "$note"
done <"$work/kernels"

echo "== NC1 at $voxel_nm nm, $times s: a synthetic experiment and its fits"
"$bin" synth --phantom NC1 --d 2.7e-19 --voxel-nm "$voxel_nm" --iterations "$iterations" --dose 10 \
    --oversample 1 --seed 11 --times "$times" --out "$work/exp" --device gpu >"$work/synth.log" 2>&1 ||
    { cat "$work/synth.log"; exit 1; }
seconds() { python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['timings']['total_s']:.1f}\")" "$1"; }
d_of() { python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['d_m2s']:.4e}\")" "$1"; }
"$bin" fit "$work/exp/experiment.toml" --out "$work/fit-gpu" --device gpu --quiet >/dev/null
row "NC1 $voxel_nm nm fit on the GPU (default, start-mask search)" "$(seconds "$work/fit-gpu/report.json") s" \
    "D = $(d_of "$work/fit-gpu/report.json") m²/s, truth 2.7e-19"

# One start mask (segmented, no start check): one fit, the same on both devices but for the kernels.
sed -e 's/^start_mask = .*/start_mask = "segmented"/' -e 's/^start_check = .*/start_check = false/' \
    "$work/exp/experiment.toml" >"$work/exp/one.toml"
for device in gpu cpu; do
    "$bin" fit "$work/exp/one.toml" --out "$work/one-$device" --device "$device" --quiet >/dev/null
done
python3 - "$work/one-gpu/report.json" "$work/one-cpu/report.json" >>"$rows" <<'PY'
import json, sys
gpu, cpu = (json.load(open(path)) for path in sys.argv[1:3])
alpha = max(abs(g - c) for g, c in zip(gpu["fit"]["alpha_fit"], cpu["fit"]["alpha_fit"]))
shift = gpu["d_m2s"] / cpu["d_m2s"] - 1
print(f"| one NC1 fit, GPU against CPU | D {shift:+.2e} relative, max abs α diff {alpha:.1e} "
      f"| {gpu['timings']['total_s']:.1f} s on the GPU, {cpu['timings']['total_s']:.1f} s on the CPU |")
PY

echo
echo "| check ($mode) | result | notes |"
echo "|---|---|---|"
cat "$rows"
