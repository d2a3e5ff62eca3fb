#!/usr/bin/env bash
# A real Slurm on localhost runs the job array that `curlora study emit slurm` writes, and the
# merge must equal the same study run unsharded in one process, bitwise.
#
#   tests/slurm/run.sh [path/to/curlora]
#
# Starts munged, slurmctld and slurmd (Debian `slurm-wlm`, `munge`) with a one-node
# configuration in a temporary folder, submits with `sbatch --wait`, and stops them after.
# Without Slurm installed it skips with a message, unless CURLORA_REQUIRE_ENGINES=1 (CI), where
# that is a failure. Needs root (slurmd runs jobs as the submitting user and must setuid).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-target}/release/curlora}"
bin="$(realpath "$bin")"
skip() {
    if [ "${CURLORA_REQUIRE_ENGINES:-}" = 1 ]; then echo "slurm test: FAILED: $*" >&2; exit 1; fi
    echo "slurm test: skipped: $*" >&2; exit 0
}
for p in munged slurmctld slurmd sbatch sinfo; do
    command -v "$p" >/dev/null || skip "$p is not installed (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || skip "slurmd must run as root here (it starts jobs as their user)"

work="$(mktemp -d /tmp/curlora-slurm.XXXXXX)"
# munged refuses a socket in a folder others cannot enter.
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${KEEP:-}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work"/{state,spool,log,munge,run}

# munge: a key of our own and a socket in the work folder.
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
sock="$work/munge/munge.socket"
munged --force --key-file="$work/munge/munge.key" --socket="$sock" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" \
    --seed-file="$work/munge/seed" || skip "munged does not start: $(tail -3 "$work/log/munged.log" 2>/dev/null)"
pids+=("$(cat "$work/munge/munged.pid")")

cpus="$(nproc)"
cat > "$work/slurm.conf" <<CONF
ClusterName=curlora-test
SlurmctldHost=$(hostname -s)
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
MpiDefault=none
NodeName=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
# slurmd initialises a cgroup plugin even with proctrack/linuxproc; autodetect picks v1 or v2.
printf "CgroupPlugin=autodetect\nCgroupMountpoint=/sys/fs/cgroup\n" > "$work/cgroup.conf"
export SLURM_CONF="$work/slurm.conf"

slurmctld -D -i >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D >"$work/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then break; fi
    sleep 1
done
if ! sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "--- slurmctld" >&2; tail -n 20 "$work/log/slurmctld.log" >&2 || true
    echo "--- slurmd" >&2; tail -n 20 "$work/log/slurmd.log" >&2 || true
    skip "the node never became idle (logs above; state: $(sinfo -h -o '%T %E' 2>&1 | head -1))"
fi
echo "slurm test: node up: $(sinfo -h -o '%N %T %c CPUs')" >&2

cat > "$work/study.toml" <<'TOML'
name = "slurm-tiny"
preset = "default"
methods = ["frozen", "lora", "curlora"]
ranks = [4]
seeds = [1, 2]
max_train = 16
max_eval = 16
epochs = 1
TOML
export RAYON_NUM_THREADS=2
"$bin" --device cpu study --config "$work/study.toml" --out "$work/unsharded" --merge 2>"$work/log/unsharded.log"
"$bin" --device cpu study emit slurm --config "$work/study.toml" --out "$work/sharded" \
    --shards 2 --cpus 1 --binary "$bin" --output "$work/study.sbatch"
sbatch --wait "$work/study.sbatch" || {
    tail -n 30 "$work"/sharded/logs/*.out "$work/log/slurmd.log" >&2 || true
    echo "slurm test: FAILED: the array job failed" >&2; exit 1
}
"$bin" study merge "$work/sharded"
ls "$work"/sharded/logs/slurm-*_0.out "$work"/sharded/logs/slurm-*_1.out >/dev/null
cmp "$work/unsharded/report.json" "$work/sharded/report.json"
echo "slurm test: passed: a 2-task job array merged to the unsharded report.json, bitwise" >&2
