#!/usr/bin/env bash
# A real Label Studio server for tests, CI and demos, in its own virtual environment.
#
#   bash scripts/label_studio.sh install            # .venv-ls with label-studio (once)
#   bash scripts/label_studio.sh start PORT DATA_DIR  # prints the server's pid on stdout
#   bash scripts/label_studio.sh stop PID
#
# start: PORT 0 picks a free loopback port. An empty or missing DATA_DIR gets a copy of
# a migrated data directory (.cache/label-studio-template, made once by `label-studio
# init`, ~40 s on 2 cores), so a server is up in seconds; an existing one is reused.
# The server listens on 127.0.0.1 only. Its URL is written to DATA_DIR/url and the admin
# user's API token to DATA_DIR/api_token (point LABEL_STUDIO_API_KEY_FILE at it); the
# log goes to DATA_DIR/server.log. LS_WORKERS=N (N > 1) serves it with N gunicorn
# worker processes (LS_THREADS threads each, default 2) instead of `label-studio start`'s
# development server; LS_SERVER=gunicorn does so with one.
# Label Studio pins its own Django/rq/redis versions, which is why it never goes into
# the project's .venv.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

LS_VERSION=${LS_VERSION:-1.23.2}
LS_VENV=${LS_VENV:-$ROOT/.venv-ls}
LS_TEMPLATE=${LS_TEMPLATE:-$ROOT/.cache/label-studio-template}
LS_START_TIMEOUT=${LS_START_TIMEOUT:-180}
LS_USERNAME=${LS_USERNAME:-admin@example.com}
LS_WORKERS=${LS_WORKERS:-1}
LS_THREADS=${LS_THREADS:-2}
LS_SERVER=${LS_SERVER:-}
PYTHON=${PYTHON:-python3}

say() { echo "label-studio: $*" >&2; }
die() { say "$*"; exit 1; }

install() {
    if "$LS_VENV/bin/python" -c "import label_studio" 2>/dev/null; then
        say "already installed in $LS_VENV"
        return
    fi
    local t0=$SECONDS
    say "installing label-studio==$LS_VERSION into $LS_VENV (a few minutes)"
    [ -x "$LS_VENV/bin/python" ] || "$PYTHON" -m venv "$LS_VENV"
    # gunicorn: for LS_WORKERS > 1 (Label Studio's own start command runs one process)
    "$LS_VENV/bin/python" -m pip install -q "label-studio==$LS_VERSION" "gunicorn>=22"
    say "installed in $(( SECONDS - t0 )) s"
}

require_venv() {
    [ -x "$LS_VENV/bin/label-studio" ] \
        || die "not installed: run 'bash scripts/label_studio.sh install' first"
}

# Environment of every label-studio process: legacy tokens on (the plain user token is
# refused otherwise), no Sentry, no phone-home (no machine here reaches the internet and
# each check waits for a timeout), local-files serving for the local-files image mode.
LS_ENV=(env -u HOST -u PORT -u USERNAME -u PASSWORD -u USER_TOKEN
    LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true
    SENTRY_DSN= FRONTEND_SENTRY_DSN=
    LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false
    USE_DEFAULT_BANNED_SUBNETS=false
    LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true
    LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT="${LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT:-$ROOT}")

random_secret() { "$PYTHON" -c "import secrets; print(secrets.token_hex(20))"; }

# The migrated data directory every new server starts from (made once, under a lock so
# that two test sessions starting together do not both migrate).
ensure_template() {
    [ -f "$LS_TEMPLATE/label_studio.sqlite3" ] && return
    mkdir -p "$(dirname "$LS_TEMPLATE")"
    exec 9>"$LS_TEMPLATE.lock"
    flock 9
    if [ ! -f "$LS_TEMPLATE/label_studio.sqlite3" ]; then
        local tmp="$LS_TEMPLATE.tmp.$$" t0=$SECONDS token password
        rm -rf "$tmp" && mkdir -p "$tmp"
        token=$(random_secret)
        password=$(random_secret)
        say "migrating a fresh data directory once (about a minute)"
        "${LS_ENV[@]}" "$LS_VENV/bin/label-studio" init --quiet --data-dir "$tmp" \
            --username "$LS_USERNAME" --password "$password" --user-token "$token" \
            --enable-legacy-api-token >"$tmp/init.log" 2>&1 \
            || { tail -20 "$tmp/init.log" >&2; die "init failed (log: $tmp/init.log)"; }
        (umask 077; echo "$token" >"$tmp/api_token"; echo "$password" >"$tmp/admin_password")
        echo "$LS_USERNAME" >"$tmp/admin_username"
        mv "$tmp" "$LS_TEMPLATE"
        say "template ready in $(( SECONDS - t0 )) s: $LS_TEMPLATE"
    fi
    flock -u 9
}

ls_package_dir() {
    "$LS_VENV/bin/python" -c "import label_studio, os; print(os.path.dirname(label_studio.__file__))"
}

free_port() {
    "$PYTHON" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

port_in_use() {
    "$PYTHON" -c "import socket, sys; s = socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $1)) != 0)"
}

start() {
    local port=${1:?usage: start PORT DATA_DIR} data_dir=${2:?usage: start PORT DATA_DIR}
    require_venv
    [ "$port" = 0 ] && port=$(free_port)
    # Label Studio silently moves to the next port when its port is taken: refuse instead
    port_in_use "$port" && die "port $port is already in use"
    mkdir -p "$data_dir"
    data_dir="$(cd "$data_dir" && pwd)"
    if [ ! -f "$data_dir/label_studio.sqlite3" ]; then
        ensure_template
        cp -a "$LS_TEMPLATE/." "$data_dir/"
    fi
    [ -f "$data_dir/api_token" ] || die "$data_dir has no api_token file (not made by this script)"
    local url="http://127.0.0.1:$port" t0=$SECONDS pid
    # The admin user and its token come with the data directory (made by init with
    # --username/--password/--user-token), so they stay off this command line and ps.
    # setsid: the server leads its own process group, so stop can end it and any child
    # by its pid, and a Ctrl-C in the caller's terminal does not reach it
    if (( LS_WORKERS > 1 )) || [ "$LS_SERVER" = gunicorn ]; then
        # Several worker processes, as Label Studio's production images run it (uwsgi
        # there): the API spends milliseconds of CPU per task, one process uses one core.
        # gunicorn also answers without `label-studio start`'s ~40 ms per request (its
        # development server leaves Nagle's algorithm on: each answer waits for the
        # client's delayed ACK), which is why the tests use it (LS_SERVER=gunicorn).
        [ -x "$LS_VENV/bin/gunicorn" ] || "$LS_VENV/bin/python" -m pip install -q "gunicorn>=22"
        "${LS_ENV[@]}" LABEL_STUDIO_BASE_DATA_DIR="$data_dir" \
            DJANGO_SETTINGS_MODULE=core.settings.label_studio PYTHONPATH="$(ls_package_dir)" \
            setsid "$LS_VENV/bin/gunicorn" label_studio.core.wsgi:application \
            --bind "127.0.0.1:$port" --workers "$LS_WORKERS" --threads "$LS_THREADS" --timeout 600 \
            --graceful-timeout 5 >"$data_dir/server.log" 2>&1 </dev/null &
    else
        "${LS_ENV[@]}" setsid "$LS_VENV/bin/label-studio" start --no-browser \
            --internal-host 127.0.0.1 --port "$port" --data-dir "$data_dir" \
            >"$data_dir/server.log" 2>&1 </dev/null &
    fi
    pid=$!
    echo "$url" >"$data_dir/url"
    echo "$pid" >"$data_dir/pid"
    until curl -fs -o /dev/null "$url/health"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -20 "$data_dir/server.log" >&2
            die "server exited during start-up (log: $data_dir/server.log)"
        fi
        if (( SECONDS - t0 > LS_START_TIMEOUT )); then
            stop "$pid"
            die "no answer from $url/health after ${LS_START_TIMEOUT} s (log: $data_dir/server.log)"
        fi
        sleep 0.3
    done
    say "up at $url (pid $pid) in $(( SECONDS - t0 )) s; token in $data_dir/api_token"
    echo "$pid"
}

stop() {
    local pid=${1:?usage: stop PID}
    [[ "$pid" =~ ^[0-9]+$ ]] || die "not a pid: $pid"
    kill -0 "$pid" 2>/dev/null || { say "pid $pid is not running"; return 0; }
    # never end a process that is not a Label Studio server (a recycled pid)
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq "label-studio start|gunicorn label_studio" \
        || die "pid $pid is not a Label Studio server"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { say "stopped pid $pid"; return 0; }
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
    say "killed pid $pid (it ignored SIGTERM for 10 s)"
}

case "${1:-}" in
    install) install ;;
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    template) require_venv; ensure_template ;;
    *) echo "usage: $0 install | start PORT DATA_DIR | stop PID | template" >&2; exit 2 ;;
esac
