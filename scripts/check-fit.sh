#!/usr/bin/env bash
# Checks a fit against the truth of the synthetic experiment it fitted, and fails if the fit is
# off: D within MAX_ERROR (default 0.05, relative) of the true D, within MAX_Z (default 3) of its
# SD, and that SD no wider than MAX_SD (default 0.05, relative to D). .ci/run checks the README's
# main job with it.
#
#   scripts/check-fit.sh REPORT_JSON TRUTH_JSON
#
# e.g. scripts/check-fit.sh nc1-fit/report.json assets/nc1-2nm/truth.json. Reads the top-level
# `d_m2s` (and `sd_m2s`) of the two files with awk, so that CI needs nothing installed for it.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: scripts/check-fit.sh REPORT_JSON TRUTH_JSON" >&2
    exit 2
fi

# The value of a top-level field: a line indented by two spaces, as alloyfit writes its JSON.
top_level() {
    local value
    value=$(awk -v key="\"$2\":" '$1 == key && /^  "/ { gsub(/,$/, "", $2); print $2; exit }' "$1")
    if [[ -z $value ]]; then
        echo "$1: no top-level field '$2'; is it alloyfit's report.json / synth's truth.json?" >&2
        exit 1
    fi
    echo "$value"
}

d=$(top_level "$1" d_m2s)
sd=$(top_level "$1" sd_m2s)
truth=$(top_level "$2" d_m2s)
awk -v d="$d" -v sd="$sd" -v truth="$truth" -v max_error="${MAX_ERROR:-0.05}" \
    -v max_z="${MAX_Z:-3}" -v max_sd="${MAX_SD:-0.05}" 'BEGIN {
    error = d / truth - 1
    z = sd > 0 ? (d - truth) / sd : 1e300
    printf "D = %.4e m²/s, SD %.2e (%.2f%%), truth %.4e: error %+.2f%%, z %+.2f\n",
        d, sd, 100 * sd / d, truth, 100 * error, z
    failed = 0
    if (!(error <= max_error && -error <= max_error)) {
        printf "fit check failed: D is %+.2f%% from the truth, beyond %.1f%% (MAX_ERROR)\n",
            100 * error, 100 * max_error
        failed = 1
    }
    if (!(z <= max_z && -z <= max_z)) {
        printf "fit check failed: D is %+.2f SD from the truth, beyond %.1f (MAX_Z)\n", z, max_z
        failed = 1
    }
    if (!(sd > 0 && sd <= max_sd * d)) {
        printf "fit check failed: the SD is %.2f%% of D, not within (0, %.1f%%] (MAX_SD)\n",
            100 * sd / d, 100 * max_sd
        failed = 1
    }
    exit failed
}'
