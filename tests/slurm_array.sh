#!/usr/bin/env bash
# Integration test against a real Slurm (issue 7): a one-node cluster on localhost runs
# assets/slurm/alloyfit-cpu.sbatch as an array job over three tiny synthetic experiments, then a
# second array run has one task killed midway and a resubmission that must fit only what is
# missing. Needs root and Debian's slurm-wlm and munge (installed here when absent). Stops only the
# daemons it started, by their pid files. Usage: tests/slurm_array.sh [path to alloyfit]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ALLOYFIT=$(realpath "${1:-$ROOT/target/release/alloyfit}")
WORK=$(mktemp -d /tmp/alloyfit-slurm.XXXXXX)
HOST=$(hostname -s)
export SLURM_CONF=$WORK/slurm.conf
STARTED_MUNGED=""

log() { echo "[slurm test] $*"; }
fail() {
    echo "[slurm test] FAILED: $*" >&2
    for f in "$WORK"/*.log "$WORK"/out/*.out; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
    done
    exit 1
}

stop_daemons() {
    for pidfile in "$WORK/slurmd.pid" "$WORK/slurmctld.pid" $STARTED_MUNGED; do
        if [ -f "$pidfile" ]; then
            kill "$(cat "$pidfile")" 2>/dev/null || true
        fi
    done
    sleep 1
}
finish() {
    local status=$?
    stop_daemons
    [ "$status" = 0 ] && rm -rf "$WORK"
    return "$status"
}
trap finish EXIT

[ "$(id -u)" = 0 ] || fail "must run as root (it starts munged, slurmctld and slurmd)"
[ -x "$ALLOYFIT" ] || fail "$ALLOYFIT is not built (cargo build --release)"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

log "starting munged"
mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
chmod 400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- munged --force
    STARTED_MUNGED=/run/munge/munged.pid
fi
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null || fail "munge does not work"

log "starting slurmctld and slurmd on $HOST"
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/out"
cat > "$SLURM_CONF" <<CONF
ClusterName=alloyfit-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$HOST CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
    state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
done
[ "$state" = idle ] || fail "the node did not come up (state '$state')"

log "making three tiny synthetic experiments"
for phantom in NC1 NC2 NR1; do
    "$ALLOYFIT" synth --phantom "$phantom" --d 3e-19 --voxel-nm 4 --iterations 5 \
        --times 0,120,600 --out "$WORK/exp/$phantom" --device cpu >/dev/null 2>&1 ||
        fail "synth $phantom"
done
cat > "$WORK/manifest.toml" <<TOML
[[experiment]]
path = "exp/NC1/experiment.toml"
[[experiment]]
path = "exp/NC2/experiment.toml"
[[experiment]]
path = "exp/NR1/experiment.toml"
TOML

submit() { # results folder, extra sbatch options...
    local results=$1
    shift
    # One core per task: the test node may have only two.
    timeout 300 sbatch --parsable --array=0-2 --cpus-per-task=1 --time=10 \
        --chdir="$WORK" --output="$WORK/out/%A_%a.out" \
        --export="ALL,ALLOYFIT=$ALLOYFIT,MANIFEST=$WORK/manifest.toml,RESULTS=$results" \
        "$@" "$ROOT/assets/slurm/alloyfit-cpu.sbatch"
}
count() { # pattern, job id: matching lines over the job's task outputs
    cat "$WORK"/out/"$2"_*.out | grep -c "$1" || true
}

log "run 1: an array of 3 tasks, one particle each"
job=$(submit "$WORK/results" --wait) || fail "array job $job failed"
[ "$(count ': D = ' "$job")" = 3 ] || fail "run 1 did not fit 3 particles"
for task in 0 1 2; do
    grep -q "shard $task/3 has 1 of 3" "$WORK/out/${job}_$task.out" || fail "task $task's shard"
done
"$ALLOYFIT" summarize "$WORK/results" >/dev/null
[ "$(grep -c ',done,' "$WORK/results/summary.csv")" = 3 ] || fail "summary of run 1"
for name in NC1 NC2 NR1; do
    grep -q "^$name,done," "$WORK/results/summary.csv" || fail "$name missing from the summary"
done

log "run 2: task 1 is cancelled midway"
job=$(submit "$WORK/results2")
for _ in $(seq 600); do
    compgen -G "$WORK/results2/.NC2.partial-*" >/dev/null && break
    sleep 0.1
done
compgen -G "$WORK/results2/.NC2.partial-*" >/dev/null || fail "task 1 never started writing"
scancel "${job}_1"
for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 0.2
done
[ -z "$(squeue -h -j "$job")" ] || fail "run 2 did not end"
[ -f "$WORK/results2/NC1/report.json" ] && [ -f "$WORK/results2/NR1/report.json" ] ||
    fail "the tasks that were not cancelled did not finish"
[ ! -e "$WORK/results2/NC2" ] || fail "the cancelled task left a results folder"

log "run 3: the resubmission fits only the missing particle"
job=$(submit "$WORK/results2" --wait) || fail "resubmitted array job $job failed"
[ "$(count ': D = ' "$job")" = 1 ] || fail "the resubmission fitted $(count ': D = ' "$job") particles, not 1"
[ "$(count 'done already, skipped' "$job")" = 2 ] || fail "the resubmission did not skip 2 particles"
"$ALLOYFIT" summarize "$WORK/results2" >/dev/null
[ "$(grep -c ',done,' "$WORK/results2/summary.csv")" = 3 ] || fail "summary after the resubmission"
leftovers=$(find "$WORK/results2" -name '.*partial*' | wc -l)
[ "$leftovers" = 0 ] || fail "$leftovers staging folders left behind"

log "passed: 3 particles over 3 array tasks; after a cancelled task the resubmission fitted 1 and skipped 2"
