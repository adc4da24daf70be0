#!/usr/bin/env bash
# N RQ workers on the CPU, one torch thread each (the fastest split for scoring shards:
# processes scale better than threads inside one process on small CNNs).
#
#   workers/cpu_workers.sh N [activelearn worker options...]
#   e.g. workers/cpu_workers.sh 2 --config configs/fashion_mnist.yaml
#
# Stops its workers (by pid) when it is stopped. Redis: jobs.redis_url or
# $ACTIVELEARN_REDIS_URL.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N=${1:?usage: workers/cpu_workers.sh N [activelearn worker options...]}
shift
export OMP_NUM_THREADS=1
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
trap stop EXIT INT TERM
for i in $(seq "$N"); do
    "${ACTIVELEARN:-$ROOT/.venv/bin/activelearn}" worker --device cpu --threads 1 \
        --name "$(hostname)-cpu$i-$$" "$@" &
    pids+=($!)
done
wait
