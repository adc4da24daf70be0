#!/usr/bin/env bash
# Sets up activelearn on a fresh machine: a virtual environment in .venv with the
# package and its test tools, and Fashion-MNIST from the Debian package when missing.
#   --test           what the tests need besides: Label Studio in its own environment
#                    (.venv-ls) with its migrated data-dir template (the tests start
#                    real servers), and a Redis server answering on 127.0.0.1:6379
#                    (started when none answers; scripts/redis.sh)
#   --label-studio   only the Label Studio part of --test
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"

if command -v dpkg >/dev/null && ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    echo "setup: installing the Debian package dataset-fashion-mnist"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

# Label Studio (its own environment, then its migrated data-dir template: ~1.5 min on a
# fresh machine, mostly one core) installs in the background while .venv's packages do.
ls_pid=""
if [ "${1:-}" = "--label-studio" ] || [ "${1:-}" = "--test" ]; then
    ls_log=$(mktemp)
    (bash scripts/label_studio.sh install && bash scripts/label_studio.sh template) \
        >"$ls_log" 2>&1 &
    ls_pid=$!
    trap 'kill "$ls_pid" 2>/dev/null || true' EXIT  # setup failed before waiting for it
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
# Installed again when pyproject.toml changed since the last install (a new dependency),
# or when the package does not import.
STAMP=.venv/.activelearn-pyproject.sha256
if ! sha256sum --status -c "$STAMP" 2>/dev/null \
        || ! .venv/bin/python -c "import activelearn, pytest, importlinter" 2>/dev/null; then
    echo "setup: installing activelearn and its dependencies into .venv (a few minutes)"
    .venv/bin/python -m pip install -q --upgrade pip
    # torch/torchvision are pinned to the builds these machines keep on local disk
    .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" -e '.[test,scale,serve,docs]'
    sha256sum pyproject.toml > "$STAMP"
fi
if [ -n "$ls_pid" ]; then
    ls_status=0
    wait "$ls_pid" || ls_status=$?
    trap - EXIT
    cat "$ls_log" >&2 && rm -f "$ls_log"
    [ "$ls_status" -eq 0 ] || { echo "setup: installing Label Studio failed" >&2; exit 1; }
fi
if [ "${1:-}" = "--test" ]; then
    bash scripts/redis.sh ensure >/dev/null
    # the report test renders the page in headless Chromium
    if ! command -v chromium >/dev/null; then
        echo "setup: installing the Debian package chromium (for the report test)"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    fi
fi
echo "setup: done"
