#!/usr/bin/env bash
# One RQ worker pinned to one GPU.
#
#   workers/gpu_worker.sh GPU [activelearn worker options...]
#   e.g. workers/gpu_worker.sh 1 --config configs/project.yaml
#
# CUDA_VISIBLE_DEVICES makes GPU number GPU the only one the process sees (as cuda:0), so
# several workers on one machine never share a device. Torch CPU threads default to 4
# (data movement only; the GPU does the work): ACTIVELEARN_WORKER_THREADS overrides.
# Redis: jobs.redis_url in the project file or $ACTIVELEARN_REDIS_URL.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
GPU=${1:?usage: workers/gpu_worker.sh GPU [activelearn worker options...]}
shift
export CUDA_VISIBLE_DEVICES="$GPU"
THREADS=${ACTIVELEARN_WORKER_THREADS:-4}
export OMP_NUM_THREADS="$THREADS"
exec "${ACTIVELEARN:-$ROOT/.venv/bin/activelearn}" worker --device cuda:0 \
    --threads "$THREADS" --name "$(hostname)-gpu$GPU-$$" "$@"
