#!/usr/bin/env bash
# Recovery of a known D over many noise seeds: for each seed S, `alloyfit synth` makes a synthetic
# experiment with noise seed S (its fit seed is S + 1) and `alloyfit fit` fits it back with the
# default settings. Prints one Markdown row per seed and a summary: the mean error of D, its
# scatter, the mean SD, and in how many fits the truth lies within 2 SD.
#
#   scripts/coverage.sh FIRST-LAST [OUT]
#
# e.g. scripts/coverage.sh 101-120 (NC1 at 2 nm, the setting of docs/PERFORMANCE.md's coverage
# tables). OUT (default: a temporary folder) keeps every experiment and fit. The environment
# sets the experiment: PHANTOM (NC1), D_M2S (2.7e-19), VOXEL_NM (2), DOSE (10), ITERATIONS (30),
# OVERSAMPLE (2, synth's default; the tables up to stop 26 were made with 1), SHAPE_JITTER (none;
# in nm, a particle shape of its own per seed), EROSION_VOXELS (the experiment's data.erosion_voxels,
# set before the fit), DEVICE (cpu); ALLOYFIT names a built binary to use instead of building
# target/release/alloyfit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+-[0-9]+$ ]]; then
    echo "usage: scripts/coverage.sh FIRST-LAST [OUT]   (seeds, e.g. 101-120)" >&2
    exit 2
fi
first=${1%-*}
last=${1#*-}
phantom=${PHANTOM:-NC1}
d_m2s=${D_M2S:-2.7e-19}
voxel_nm=${VOXEL_NM:-2}
dose=${DOSE:-10}
iterations=${ITERATIONS:-30}
oversample=${OVERSAMPLE:-2}
device=${DEVICE:-cpu}
jitter=()
if [[ -n ${SHAPE_JITTER:-} ]]; then
    jitter=(--shape-jitter "$SHAPE_JITTER")
fi
if [[ $# -ge 2 ]]; then
    out=$2
    mkdir -p "$out"
else
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi

if [[ -n ${ALLOYFIT:-} ]]; then
    alloyfit=$ALLOYFIT
else
    cargo build --release --quiet
    alloyfit=target/release/alloyfit
fi
echo "$phantom at $voxel_nm nm (oversampled $oversample×${SHAPE_JITTER:+, shape jitter $SHAPE_JITTER nm}${EROSION_VOXELS:+, erosion $EROSION_VOXELS voxels}), D = $d_m2s m²/s, dose $dose, $iterations SIRT iterations, seeds $first–$last, $device"
echo
echo "| seed | D (m²/s) | SD | error | z | fit time |"
echo "|---|---|---|---|---|---|"
for seed in $(seq "$first" "$last"); do
    data="$out/data-$seed"
    fit="$out/fit-$seed"
    "$alloyfit" synth --phantom "$phantom" --d "$d_m2s" --voxel-nm "$voxel_nm" --seed "$seed" \
        --dose "$dose" --iterations "$iterations" --oversample "$oversample" --out "$data" --force \
        --device "$device" "${jitter[@]}" \
        >/dev/null 2>&1
    if [[ -n ${EROSION_VOXELS:-} ]]; then
        sed -i "s/^erosion_voxels = .*/erosion_voxels = $EROSION_VOXELS/" "$data/experiment.toml"
    fi
    "$alloyfit" fit "$data/experiment.toml" --out "$fit" --force --device "$device" >/dev/null 2>&1
    python3 - "$fit/report.json" "$d_m2s" "$seed" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
truth, seed = float(sys.argv[2]), sys.argv[3]
d, sd = report["d_m2s"], report["sd_m2s"]
print(f"| {seed} | {d:.4e} | {sd:.2e} | {100 * (d / truth - 1):+.2f}% | {(d - truth) / sd:+.2f} "
      f"| {report['timings']['total_s']:.1f} s |")
EOF
done | tee "$out/rows.md"
python3 - "$out/rows.md" <<'EOF'
import statistics, sys
rows = [line.split("|") for line in open(sys.argv[1]) if line.startswith("| ")]
errors = [float(r[4].strip().rstrip("%")) for r in rows]
sds = [100 * float(r[3]) / float(r[2]) for r in rows]
z = [float(r[5]) for r in rows]
times = [float(r[6].split()[0]) for r in rows]
print()
print(f"{len(rows)} seeds: error mean {statistics.mean(errors):+.2f}%, scatter "
      f"{statistics.stdev(errors) if len(errors) > 1 else 0.0:.2f}%, SD mean {statistics.mean(sds):.2f}%, "
      f"truth within 2 SD in {sum(abs(v) <= 2 for v in z)}/{len(z)}, "
      f"fit time {min(times):.1f}–{max(times):.1f} s")
EOF
