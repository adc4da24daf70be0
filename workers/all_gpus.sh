#!/usr/bin/env bash
# One pinned worker per GPU of this machine (see gpu_worker.sh); stops them on exit.
#
#   workers/all_gpus.sh [activelearn worker options...]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
count=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
if [ "$count" -eq 0 ]; then
    echo "all_gpus: no GPU found (nvidia-smi -L); use workers/cpu_workers.sh" >&2
    exit 1
fi
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
trap stop EXIT INT TERM
for gpu in $(seq 0 $((count - 1))); do
    "$HERE/gpu_worker.sh" "$gpu" "$@" &
    pids+=($!)
done
wait
