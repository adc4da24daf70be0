#!/usr/bin/env bash
# Make sure a Redis server answers for RQ jobs and the tests.
#
#   bash scripts/redis.sh ensure [PORT]   # default 6379 on 127.0.0.1
#
# redis-server is installed from Debian when missing (the tests start one of their own on
# a free port). If a server already answers on PORT (the development machines run one),
# it is left alone; otherwise one is started in the background on loopback, without
# persistence (RQ's jobs are transient; activelearn's own state is in state.sqlite).
# Prints the URL to use as ACTIVELEARN_REDIS_URL.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PORT=${2:-6379}
SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"

say() { echo "redis: $*" >&2; }

answers() {
    "$ROOT/.venv/bin/python" - "$PORT" <<'PY' 2>/dev/null
import sys
import redis
redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_connect_timeout=2).ping()
PY
}

ensure() {
    if ! command -v redis-server >/dev/null; then
        say "installing the Debian package redis-server"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
    fi
    if answers; then
        say "a server answers at 127.0.0.1:$PORT"
    else
        say "starting redis-server on 127.0.0.1:$PORT"
        redis-server --port "$PORT" --bind 127.0.0.1 --daemonize yes --save "" \
            --appendonly no --logfile "${TMPDIR:-/tmp}/activelearn-redis-$PORT.log"
        for _ in $(seq 50); do answers && break; sleep 0.2; done
        answers || { say "redis-server did not answer on port $PORT"; exit 1; }
    fi
    echo "redis://127.0.0.1:$PORT/0"
}

case "${1:-}" in
    ensure) ensure ;;
    *) echo "usage: $0 ensure [PORT]" >&2; exit 2 ;;
esac
