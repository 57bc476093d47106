#!/usr/bin/env bash
# The measurement behind BENCHMARKS.md's "On a Ballista cluster" section: the hunt on the local
# operator beside the same hunt on a cluster of this binary's processes (a scheduler and
# EXECUTORS executors of TASKS tasks each, all on this machine, loopback), over the first 7, 14
# and 30 days of a lake; then Ballista's per-stage figures for the cluster's runs
# (benches/cluster_stages.py: task times, shuffle rows and bytes).
# Usage: EXECUTORS=2 TASKS=1 bash benches/cluster.sh LAKE [WORK_DIR]
#   PROFILE=release (default) or dev; RUNS (3) recorded runs after one warm-up; SCALE (7,14,30).
set -euo pipefail
cd "$(dirname "$0")/.."
lake="$1"
work="${2:-$(mktemp -d)}"
executors="${EXECUTORS:-1}"
tasks="${TASKS:-2}"
runs="${RUNS:-3}"
scale="${SCALE:-7,14,30}"
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then
    cargo build --quiet --locked --release
    retrohunt="$PWD/${CARGO_TARGET_DIR:-target}/release/retrohunt"
else
    cargo build --quiet --locked
    retrohunt="$PWD/${CARGO_TARGET_DIR:-target}/debug/retrohunt"
fi
mkdir -p "$work"
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
export RUST_LOG="warn,ballista_scheduler=info,ballista_executor=info,ballista_executor::execution_loop=debug"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
scheduler=$(free_port)
"$retrohunt" cluster scheduler --bind "127.0.0.1:$scheduler" 2> "$work/scheduler.log" &
pids+=($!)
sleep 2
logs=()
for n in $(seq "$executors"); do
    "$retrohunt" cluster executor --scheduler "127.0.0.1:$scheduler" --bind "127.0.0.1:$(free_port)" \
        --grpc-port "$(free_port)" --concurrent-tasks "$tasks" --work-dir "$work/executor-$n" \
        2> "$work/executor-$n.log" &
    pids+=($!)
    logs+=("$work/executor-$n.log")
    mkdir -p "$work/executor-$n"
done
sleep 3
"$retrohunt" bench --lake "$lake" --scale "days=$scale" --engines operator,cluster \
    --cluster "df://127.0.0.1:$scheduler" --runs "$runs" --warmup 1 --format markdown \
    --work "$work"
sizes=$(echo "$scale" | sed 's/\([0-9]*\)/\1 days/g')
python3 benches/cluster_stages.py --scheduler "$work/scheduler.log" --group $((runs + 1)) \
    --skip 1 --labels "$sizes" "${logs[@]}"
