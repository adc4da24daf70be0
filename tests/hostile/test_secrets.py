"""Secrets and log lines against hostile servers and hostile ids (issue 27, item 3).

- A "Label Studio" that echoes the request (its headers, its body) back in an error body
  or a header: the command's error line, stderr and serve's cycle.log hold neither the
  API token nor the webhook secret (a local server; client.py shows a status, a fixed
  reason and refused field names, never a body; errors.redact strips what looks like one).
- `init --connect-ml-backend` that fails half-way against the REAL Label Studio (a
  service URL nothing answers at, a service that answers 500, a proxy in front of Label
  Studio that refuses the ML backend): the project keeps no webhook and no ML backend.
- Job payloads on a real Redis that wants a password: every key of the database, raw and
  zlib-decompressed, holds no password of the config (nor the API token).
- Ids with a newline, a carriage return or an ANSI escape, written to the cycle's echo
  lines, serve's log and ingest's output: one line each, escaped.

Each refusal: exit 1 (or 2), at most 2 lines, no traceback, nothing changed.
"""

from __future__ import annotations

import http.client
import json
import logging
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.config.serve import SECRET_ENV, SECRET_FILE_ENV
from activelearn.errors import BackendError, printable, redact
from activelearn.jobs.executor import RQExecutor, redis_client
from activelearn.jobs.kinds.select import score_and_select
from activelearn.loop.pull import _report
from activelearn.state import Problem, PullChanges
from support import ROOT
from support.jobs import Workers, controller_step, trained
from support.project_files import write_project
from support.storage import serve_in_thread

TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a legacy token's shape (40 hex)
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9."
       "c2lnbmF0dXJlLW9mLXRoZS10ZXN0")  # a refresh token's shape (the SDK exchanges it)
SECRET = "webhook-secret-4f1c2a9e7b3d5c8a"


def state_rows(work: Path) -> dict[str, list]:
    """Every row of the work dir's state but its bookkeeping (meta: the schema version a
    new file records), by table; {} without a state file."""
    import sqlite3

    path = work / "state.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE "
                                           "type = 'table' AND name NOT IN "
                                           "('meta', 'schema_history')")]
        found = {t: db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    return {t: rows for t, rows in found.items() if rows}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def check_refusal(result, secrets: tuple[str, ...], codes=(1,)) -> list[str]:
    """A refused command: its exit code, at most 2 lines, no traceback, no secret, and
    nothing that looks like a credential."""
    output = result.output
    lines = output.strip().splitlines()
    assert result.exit_code in codes, output
    assert 1 <= len(lines) <= 2, output
    assert "Traceback" not in output, output
    for secret in secrets:
        assert secret not in output, output
    assert redact(output) == output, output  # no Token/Bearer/Authorization value left
    return lines


# -- a "Label Studio" that echoes the request --------------------------------------------
class Echo:
    """An HTTP server on 127.0.0.1 that answers every API request with `status` and the
    request's headers and body echoed in one of several forms (style); GET
    /api/current-user/whoami answers 200 when whoami_ok (so the echo comes from a later
    call)."""

    def __init__(self, status: int, style: str, whoami_ok: bool = False) -> None:
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("latin-1") if length else ""
                if whoami_ok and self.path.startswith("/api/current-user/whoami"):
                    return self._send(200, json.dumps({"id": 1, "email": "a@b.c"}),
                                      "application/json", {})
                status, text, kind, extra = echo.render(dict(self.headers), body, self.path)
                self._send(status, text, kind, extra)

            def _send(self, status, text, kind, extra) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.status, self.style = status, style
        self.server, self.url = serve_in_thread(Handler)

    def render(self, headers: dict[str, str], body: str, path: str):
        dump = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        auth = headers.get("Authorization", "")
        style, status = self.style, self.status
        if style == "json":
            return status, json.dumps({"detail": "bad request", "headers": headers,
                                       "body": body}), "application/json", {}
        if style == "text":
            return status, f"{path}\r\n{dump}\r\n{body}", "text/plain", {}
        if style == "html":
            return status, f"<html><pre>{dump}{body}</pre></html>", "text/html", {}
        if style == "validation":  # Label Studio's shape, with the echo in the messages
            return status, json.dumps({"status_code": status, "detail": auth,
                                       "validation_errors": {"url": [auth], auth: [dump]}}
                                      ), "application/json", {}
        if style == "header":  # reflected in a response header and a JSON detail
            return status, json.dumps({"detail": f"Authorization: {auth}"}), \
                "application/json", {"X-Echo-Authorization": auth}
        raise AssertionError(style)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo_server() -> Iterator[list[Echo]]:
    made: list[Echo] = []
    yield made
    for server in made:
        server.stop()


REFLECTIONS = [  # (status, style, token)
    (400, "json", TOKEN), (500, "text", TOKEN), (404, "html", TOKEN),
    (422, "validation", TOKEN), (400, "header", TOKEN), (502, "json", TOKEN),
    (400, "text", JWT), (400, "validation", JWT),
]


@pytest.mark.parametrize(("status", "style", "token"), REFLECTIONS,
                         ids=[f"{s}-{k}-{'jwt' if t == JWT else 'token'}"
                              for s, k, t in REFLECTIONS])
def test_an_echoed_token_never_reaches_the_error_line(project_file, echo_server, monkeypatch,
                                                      status, style, token):
    server = Echo(status, style, whoami_ok=status != 400 or style != "text")
    echo_server.append(server)
    monkeypatch.setenv("ACTIVELEARN_LS_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
    path = project_file()
    work = path.parent / "work"
    result = CliRunner().invoke(main, ["init", "--config", str(path)])
    lines = check_refusal(result, (token, token[:20]))
    assert lines[-1].startswith("error: Label Studio at ") and "HTTP" in lines[-1], lines
    assert state_rows(work) == {}  # no project linked, nothing recorded


def test_a_webhook_secret_echoed_by_a_proxy_never_reaches_the_line(label_studio, ls_project,
                                                                    monkeypatch, tmp_path):
    """A proxy in front of the real Label Studio refuses the webhook, echoing the request
    (its body holds the secret header): the line has neither secret nor token, and the
    project has no webhook."""
    proxy = ls_project.proxy
    proxy.refuse = ("POST", "/api/webhooks")
    result = connect(ls_project.path, "http://127.0.0.1:9")
    check_refusal(result, (SECRET, label_studio.token))
    assert proxy.refused, "the proxy saw no webhook request"
    assert SECRET in proxy.refused[0]  # the echo held it: the line dropped it
    assert ls_project.integrations() == ([], [])


def test_serve_cycle_log_holds_no_echoed_token(project_file, echo_server, tmp_path):
    """A serve-started cycle (cycle_process, as serve forks it) against an echoing server:
    cycle.log says what failed without the token."""
    server = Echo(500, "json")
    echo_server.append(server)
    path = project_file(label_studio={"url": server.url})
    log, journal = tmp_path / "cycle.log", tmp_path / "cycles.jsonl"
    code = ("import sys; from activelearn.service.cycle_process import run_cycle_process; "
            "run_cycle_process(*sys.argv[1:4], 1)")
    done = subprocess.run([sys.executable, "-c", code, str(path), str(journal), str(log)],
                          cwd=ROOT, env=env_with(LABEL_STUDIO_API_KEY=TOKEN),
                          capture_output=True, text=True, timeout=300)
    text = log.read_text()
    assert done.returncode == 1, (done.stderr, text)
    assert TOKEN not in text and "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "HTTP 500" in errors[0], text


def env_with(**values: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("LABEL_STUDIO_API_KEY_FILE", SECRET_FILE_ENV)}
    return {**env, **values}


# -- init --connect-ml-backend against the real Label Studio --------------------------
class Proxy:
    """A proxy to upstream on 127.0.0.1: forwards every request, except, once armed
    with `refuse` (method, path prefix), the first such request, which it answers 400
    echoing the request's headers and body (kept in .refused)."""

    def __init__(self, upstream: str) -> None:
        proxy, parts = self, urlsplit(upstream)
        self.refused: list[str] = []
        self.refuse: tuple[str, str] | None = None

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                refuse = proxy.refuse
                if refuse and self.command == refuse[0] and self.path.startswith(refuse[1]) \
                        and not proxy.refused:
                    echoed = "".join(f"{k}: {v}\n" for k, v in self.headers.items()) + \
                        body.decode("latin-1")
                    proxy.refused.append(echoed)
                    return self._send(400, {"Content-Type": "text/plain"}, echoed.encode())
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                kept = {k: v for k, v in answer.getheaders() if k.lower() not in
                        ("transfer-encoding", "connection", "content-length")}
                conn.close()
                self._send(answer.status, kept, data)

            def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

            def log_message(self, *args) -> None:
                pass

        self.server, self.url = serve_in_thread(Handler)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LinkedProject:
    def __init__(self, path: Path, project_id: int, client, proxy: Proxy) -> None:
        self.path, self.project_id, self.client, self.proxy = path, project_id, client, proxy

    def integrations(self) -> tuple[list, list]:
        """The project's webhooks and ML backends, as Label Studio has them."""
        hooks = [(h.id, h.url) for h in self.client.webhooks.list()
                 if h.project == self.project_id]
        backends = [(b.id, b.url) for b in self.client.ml.list(project=self.project_id)]
        return hooks, backends


@pytest.fixture
def ls_project(label_studio, project_file, ls_project_title,
               monkeypatch) -> Iterator[LinkedProject]:
    """A project linked to a Label Studio project of its own (plain `init`), with the
    webhook secret set; the project reaches Label Studio through a Proxy (transparent
    until armed)."""
    from label_studio_sdk import LabelStudio

    from activelearn.loop.project import PROJECT_ID_KEY
    from activelearn.state import Store

    proxy = Proxy(label_studio.url)
    monkeypatch.setenv("ACTIVELEARN_LS_URL", proxy.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv(SECRET_FILE_ENV, raising=False)
    path = project_file(label_studio={"project_title": ls_project_title})
    result = CliRunner().invoke(main, ["init", "--config", str(path)])
    assert result.exit_code == 0, result.output
    with Store.open(path.parent / "work" / "state.sqlite") as store:
        project_id = int(store.meta.get(PROJECT_ID_KEY))
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    yield LinkedProject(path, project_id, client, proxy)
    proxy.stop()


def connect(path: Path, url: str):
    return CliRunner().invoke(main, ["init", "--config", str(path), "--connect-ml-backend",
                                     url])


class Refusing:
    """A service that answers every request 500 (Label Studio's /health check fails)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server, self.url = serve_in_thread(Handler)


@pytest.mark.parametrize("service", ["nothing listens", "answers 500", "proxy refuses"])
def test_a_failed_connect_leaves_no_webhook(label_studio, ls_project, monkeypatch, service):
    before = ls_project.integrations()
    assert before == ([], [])
    state = snapshot(ls_project.path.parent / "work")
    url = Refusing().url if service == "answers 500" else "http://127.0.0.1:9"
    if service == "proxy refuses":  # the webhook goes through, the ML backend is refused
        ls_project.proxy.refuse = ("POST", "/api/ml")
    result = connect(ls_project.path, url)
    if service == "proxy refuses":
        assert ls_project.proxy.refused, "the proxy refused nothing"
    lines = check_refusal(result, (SECRET, label_studio.token))
    assert "removed webhook" in lines[-1] and "this run made" in lines[-1], lines
    assert ls_project.integrations() == before
    assert snapshot(ls_project.path.parent / "work").keys() == state.keys()


# -- job payloads on a Redis with a password ------------------------------------------
def every_value(client) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) for every value of every key of the database: strings, hash fields
    and values, list, set and sorted-set members, stream entries."""
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            yield key, client.get(key) or b""
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                yield key, field
                yield key, value
        elif kind == "list":
            yield from ((key, v) for v in client.lrange(key, 0, -1))
        elif kind == "set":
            yield from ((key, v) for v in client.smembers(key))
        elif kind == "zset":
            yield from ((key, v) for v in client.zrange(key, 0, -1))
        elif kind == "stream":
            for _, fields in client.xrange(key):
                for field, value in fields.items():
                    yield key, field + b"=" + value


def readable(value: bytes) -> bytes:
    """The value, and its zlib-decompressed form when it is compressed (RQ's job data)."""
    try:
        return value + b"\n" + zlib.decompress(value)
    except zlib.error:
        return value


@pytest.mark.parametrize("password_in", ["url", "file"])
def test_no_payload_in_redis_holds_a_password(project_file, secure_redis, monkeypatch,
                                              tmp_path, password_in):
    ls_password, template_key = "ls-proxy-pass-8c1d", "tpl-sig-5e2b9f"
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    url = secure_redis.url
    if password_in == "file":
        secret = tmp_path / "redis_password"
        secret.write_text(secure_redis.password + "\n")
        url = url.replace(f":{secure_redis.password}@", "")
        monkeypatch.setenv("ACTIVELEARN_REDIS_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", url)
    path = project_file(
        jobs={"shard_size": 100, "heartbeat": 1, "wait_for_worker": 60},
        label_studio={"url": f"http://annotator:{ls_password}@127.0.0.1:9",
                      "url_template": f"https://img.example/{{path}}?sig={template_key}"})
    cfg, _ = trained(path)
    workers = Workers(path)
    try:
        workers.start()
        chosen = controller_step(score_and_select, RQExecutor(cfg.jobs), cfg, "t-r1",
                                 np.arange(40, 240), np.arange(40), 10, seed=3,
                                 progress=False)
    finally:
        workers.stop()
    assert len(chosen["positions"]) == 10  # the jobs ran on the worker, through Redis
    client = redis_client(url)
    values = [readable(v) for _, v in every_value(client)]
    payloads = [v for v in values if b"activelearn.jobs.executor.perform" in v]
    assert payloads, "no job payload found in Redis: the scan reads nothing"
    assert any(b'"work_dir"' in v for v in payloads)  # decompressed: the config is there
    for forbidden in (secure_redis.password, ls_password, template_key, TOKEN):
        assert not [v for v in values if forbidden.encode() in v], forbidden


# -- hostile ids in log lines ---------------------------------------------------------
HOSTILE_IDS = {  # file names too (an image folder's item ids)
    "newline": "cat-1\nERROR forged: the state is corrupt.png",
    "carriage return": "cat-2\rINFO all good.png",
    "ansi": "cat-3\x1b[2K\x1b[1Aforged.png",
    "unicode line separator": "cat-4\u2028forged.png",
}


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_a_hostile_item_id_is_one_escaped_line_in_the_cycle_log(name):
    item = HOSTILE_IDS[name]
    changes = PullChanges(new_labels=1, ties=[item], disagreements={item: {0: 1, 1: 1}},
                          new_problems=[Problem(7, item, 3, f"label {item!r} is odd\n")])
    lines: list[str] = []
    _report(changes, 0, 1, [], ["cat", "dog"], lines.append)
    assert len(lines) == 3 and all(printable(line) == line for line in lines), lines
    assert printable(item) in lines[1] and printable(item) in lines[2], lines


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_a_hostile_task_id_is_one_line_in_the_serve_log(project_file, caplog, name):
    from activelearn.project import Project
    from activelearn.service.fetcher import Fetcher

    fetcher = Fetcher(Project(load_config(project_file())))
    task = {"id": HOSTILE_IDS[name], "data": {"image": "http://127.0.0.1:9/x\n.png"}}
    try:
        with caplog.at_level(logging.WARNING, logger="activelearn.serve"):
            reason = fetcher.read(task, (1, 28, 28), time.monotonic() + 5)
    finally:
        fetcher.threads.shutdown()
    assert isinstance(reason, str)
    logged = [r.getMessage() for r in caplog.records if r.name == "activelearn.serve"]
    assert len(logged) == 1 and printable(logged[0]) == logged[0], logged
    assert printable(HOSTILE_IDS[name]) in logged[0]


def test_hostile_file_names_are_one_line_each_in_ingest(tmp_path, fmnist_root):
    """ingest of an image folder whose unusable files have hostile names: each skipped
    file is one line of its output and of its log, its name escaped."""
    root = tmp_path / "images"
    root.mkdir()
    for i in range(12):
        Image.new("L", (8, 8), 20 * i).save(root / f"img{i:02d}.png")
    for name in HOSTILE_IDS.values():
        (root / name).write_bytes(b"not an image")
    path = write_project(tmp_path / "p.yaml", tmp_path / "work", fmnist_root,
                         data={"source": "imagefolder", "root": str(root), "channels": 1,
                               "image_size": [8, 8]}, classes=["light", "dark"])
    done = subprocess.run([sys.executable, "-m", "activelearn.cli", "ingest", "--config",
                           str(path), "--no-progress"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env_with())
    assert done.returncode == 0, done.stderr
    for name in HOSTILE_IDS.values():
        escaped = printable(name)
        assert escaped != name
        assert sum(escaped in line for line in done.stdout.splitlines()) == 1, done.stdout
        assert sum(escaped in line for line in done.stderr.splitlines()) == 1, done.stderr
    for text in (done.stdout, done.stderr):
        assert not [line for line in text.splitlines() if line.startswith(("ERROR", "INFO"))]
        assert "\x1b" not in text and "\r" not in text and "\u2028" not in text


def test_an_error_is_redacted_and_one_line_wherever_it_is_shown(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    error = BackendError(f"echo: Authorization: Token {TOKEN}\nX-Forged: yes "
                         f"redis://:pw-12345678@h:6379/0 Bearer {JWT}")
    text = str(error)
    assert TOKEN not in text and JWT not in text and "pw-12345678" not in text, text
    assert "\n" not in text and "\\n" in text, text
