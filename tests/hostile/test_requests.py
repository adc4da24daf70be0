"""Hostile requests to `activelearn serve`: bodies over the route's limit (by
Content-Length and chunked), JSON nested too deep, not JSON or of the wrong type, /report/
names with NUL bytes, 5,000 characters or `..`, a state overwritten with garbage under
/webhook, /metrics, /status, /setup and /predict, unknown routes and wrong methods.

Each case: a 4xx or 503 status, a short one-line JSON body, at most one line in the
service's log, no traceback anywhere (the TestClient raises any exception that escapes
the app), and the state file unchanged. The in-process cases use Starlette's TestClient
on the real app; the last tests run the real `activelearn serve` (uvicorn) for what only
a real server shows: a 300 MB chunked body that never sits in memory, and /health
answering within 1 s while /predict requests name URLs that hang, each /predict within
its deadline.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import torch
from starlette.testclient import TestClient

from activelearn.config import load_config
from activelearn.config.serve import SECRET_HEADER
from activelearn.learn.checkpoints import checkpoint_path, save_checkpoint
from activelearn.learn.fit import build, input_spec
from activelearn.learn.inference import Normalizer
from activelearn.loop.project import PROJECT_ID_KEY
from activelearn.project import Project
from activelearn.service import versions
from activelearn.service.app import create_app
from activelearn.state import Store
from support.serve import SECRET, start_serve

MAX_BODY = 64 * 1024  # serve.max_body of these projects
MAX_SETUP = 4 * 1024  # serve.max_setup_body
AUTH = {SECRET_HEADER: SECRET}


class Log(list):
    """What the service echoed."""

    def __call__(self, line: str) -> None:
        self.append(line)


@pytest.fixture
def served(project_file) -> Iterator[tuple[TestClient, Log, Path]]:
    """(client, the service's log lines, the state file) of a project with a state."""
    cfg = load_config(project_file(serve={"min_new_labels": 1000, "max_wait": 3600,
                                          "max_body": MAX_BODY,
                                          "max_setup_body": MAX_SETUP}))
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.meta.set(PROJECT_ID_KEY, "7")
    log = Log()
    with TestClient(create_app(Project(cfg), SECRET, log, warm=False)) as client:
        yield client, log, cfg.work_dir / "state.sqlite"


def nested(depth: int) -> bytes:
    return b'{"tasks": ' + b"[" * depth + b"]" * depth + b"}"


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A body with no Content-Length (sent chunked): total bytes of a JSON string."""
    yield b'{"tasks": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


BIG = b'{"tasks": "' + b"x" * (MAX_BODY + 10) + b'"}'
EVENT = {"action": "ANNOTATION_CREATED", "project": {"id": 7}, "annotation": {"id": 1}}

# (id, method, path, request keyword arguments, status)
CASES = [
    ("predict-content-length-300mb", "POST", "/predict",
     {"content": b"{}", "headers": {"Content-Length": str(300 * 2**20)}}, 413),
    ("predict-over-max-body", "POST", "/predict", {"content": BIG}, 413),
    ("predict-chunked-over-max-body", "POST", "/predict", {"content": chunks(4 * MAX_BODY)},
     413),
    ("webhook-over-max-body", "POST", "/webhook", {"content": BIG, "headers": AUTH}, 413),
    ("webhook-chunked-over-max-body", "POST", "/webhook",
     {"content": chunks(4 * MAX_BODY), "headers": AUTH}, 413),
    ("webhook-huge-without-secret", "POST", "/webhook", {"content": BIG}, 401),
    ("setup-over-max-setup-body", "POST", "/setup",
     {"content": b'{"schema": "' + b"<View>" * MAX_SETUP + b'"}'}, 413),
    ("content-length-not-a-number", "POST", "/predict",
     {"content": b"{}", "headers": {"Content-Length": "lots"}}, 400),
    ("predict-50000-brackets", "POST", "/predict", {"content": b"[" * 50_000}, 400),
    ("predict-nested-65", "POST", "/predict", {"content": nested(65)}, 400),
    ("predict-nested-objects", "POST", "/predict",
     {"content": b'{"a":' * 5000 + b"1" + b"}" * 5000}, 400),
    ("webhook-nested", "POST", "/webhook", {"content": b"[" * 50_000, "headers": AUTH}, 400),
    ("setup-nested", "POST", "/setup", {"content": nested(200)}, 400),
    ("predict-not-json", "POST", "/predict", {"content": b"\x00\x01 not json"}, 400),
    ("predict-not-utf8", "POST", "/predict", {"content": b'{"tasks": "\xff\xfe"}'}, 400),
    ("predict-json-array", "POST", "/predict", {"content": b"[]"}, 400),
    ("predict-json-string", "POST", "/predict", {"content": b'"tasks"'}, 400),
    ("predict-tasks-not-a-list", "POST", "/predict", {"json": {"tasks": "all"}}, 400),
    ("predict-task-not-an-object", "POST", "/predict", {"json": {"tasks": [1, 2]}}, 400),
    ("setup-json-number", "POST", "/setup", {"content": b"12"}, 400),
    ("webhook-json-array", "POST", "/webhook", {"content": b"[]", "headers": AUTH}, 400),
    ("webhook-no-action", "POST", "/webhook", {"json": {"x": 1}, "headers": AUTH}, 400),
    ("report-nul", "GET", "/report/%00", {}, 400),
    ("report-nul-in-name", "GET", "/report/index.html%00.png", {}, 400),
    ("report-5000-characters", "GET", "/report/" + "a" * 5000, {}, 400),
    ("report-long-part", "GET", "/report/" + "b" * 300 + ".html", {}, 404),
    ("report-traversal", "GET", "/report/../state.sqlite", {}, 404),
    ("report-encoded-traversal", "GET", "/report/%2e%2e/%2e%2e/etc/passwd", {}, 404),
    ("report-absolute", "GET", "/report//etc/passwd", {}, 404),
    ("unknown-route", "GET", "/admin", {}, 404),
    ("wrong-method-predict", "GET", "/predict", {}, 405),
    ("wrong-method-webhook", "DELETE", "/webhook", {}, 405),
]


def check_answer(answer: httpx.Response, status: int, log: Log) -> None:
    assert answer.status_code == status, answer.text[:300]
    assert len(answer.content) <= 400
    message = answer.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    assert len(log) <= 1 and not any("Traceback" in line for line in log), log


@pytest.mark.parametrize(("method", "path", "kwargs", "status"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_hostile_request_is_a_short_4xx(served, caplog, capfd, method, path, kwargs,
                                          status):
    client, log, state = served
    before = hashlib.sha256(state.read_bytes()).hexdigest()
    answer = client.request(method, path, **kwargs)
    check_answer(answer, status, log)
    assert hashlib.sha256(state.read_bytes()).hexdigest() == before
    assert "Traceback" not in caplog.text + "".join(capfd.readouterr())
    assert client.get("/health").status_code == 200  # and the service goes on


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("POST", "/webhook", {"json": EVENT, "headers": AUTH}),
    ("GET", "/metrics", {}),
    ("GET", "/status", {}),
    ("POST", "/setup", {"json": {"project": "1.1"}}),
    ("POST", "/predict", {"json": {"tasks": [{"id": 1, "data": {"image": "data:,x"}}]}}),
], ids=["webhook", "metrics", "status", "setup", "predict"])
def test_a_state_overwritten_with_garbage_is_503_in_one_line(served, caplog, capfd,
                                                            monkeypatch, method, path, kwargs):
    client, log, state = served
    monkeypatch.setattr(versions, "CHECK_EVERY", 0.0)  # no model version remembered
    state.write_bytes(b"this is no SQLite database " * 400)
    answer = client.request(method, path, **kwargs)
    # the model's warm-up at start may have met the garbage too, and said so in a line
    check_answer(answer, 503, Log(line for line in log if not line.startswith("predictions:")))
    assert "damaged" in answer.json()["error"]
    assert state.read_bytes() == b"this is no SQLite database " * 400
    assert "Traceback" not in caplog.text + "".join(capfd.readouterr())
    health = client.get("/health")  # still up, saying what is wrong
    assert health.status_code == 200 and "damaged" in health.json()["state_error"]


def test_refused_requests_are_counted_by_route_and_status_only(served):
    client, _, _ = served
    client.get("/report/%00")
    client.get("/" + "x" * 3000)
    client.post("/predict", content=b"[" * 1000)
    text = client.get("/metrics").text
    assert 'activelearn_http_errors_total{route="/report/{path:path}",status="400"} 1.0' in text
    assert 'activelearn_http_errors_total{route="/predict",status="400"} 1.0' in text
    assert "x" * 100 not in text


# -- a real server -------------------------------------------------------------------------

def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def send_chunked(port: int, path: str, total: int) -> bytes:
    """POST total bytes chunked (1 MiB chunks) while reading what comes back; returns
    the answer's bytes (the server may close the connection once it answered)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    received = bytearray()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                received.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    chunk = b"x" * 2**20
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        sock.sendall(b'b\r\n{"tasks": "\r\n')
        for _ in range(total // len(chunk)):
            sock.sendall(b"100000\r\n" + chunk + b"\r\n")
    except OSError:  # the server answered and closed: what it said is in `received`
        pass
    finally:
        with_timeout = time.monotonic() + 10
        while not received.endswith(b"}") and time.monotonic() < with_timeout:
            time.sleep(0.05)
        sock.close()
        reader.join()
    return bytes(received)


@pytest.mark.slow
def test_a_real_server_refuses_300_mb_without_holding_it(project_file):
    path = project_file(serve={"min_new_labels": 1000, "max_wait": 3600, "max_body": 2**20},
                        label_studio={"url": "http://127.0.0.1:9"})
    served = start_serve(path, load_config(path).work_dir)
    try:
        port = int(served.url.rsplit(":", 1)[1])
        before = peak_rss_kb(served.proc.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: "
                         + str(300 * 2**20).encode() + b"\r\n\r\n{")  # and no more
            declared = sock.recv(4096)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                         b'{"tasks": [')  # and goes away
        answer = send_chunked(port, "/predict", 300 * 2**20)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert peak_rss_kb(served.proc.pid) - before < 64 * 1024  # KiB: far below 300 MB
        assert httpx.get(f"{served.url}/health", timeout=5).status_code == 200
    finally:
        out = served.stop()
    assert declared.startswith(b"HTTP/1.1 413"), declared
    assert "Traceback" not in out and " 500" not in out and len(out.splitlines()) <= 3, out


class Hang(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        time.sleep(60)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_slow_urls_keep_neither_health_nor_the_answer_waiting(project_file):
    hang = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    hang.daemon_threads = True
    threading.Thread(target=hang.serve_forever, daemon=True).start()
    port = hang.server_address[1]
    deadline = 2.0
    path = project_file(serve={"predict_deadline": deadline, "max_fetches": 2,
                               "fetch": {"allow_hosts": [f"127.0.0.1:{port}"],
                                         "allow_networks": ["127.0.0.1/32"]}},
                        label_studio={"url": "http://127.0.0.1:9"})
    cfg = load_config(path)
    model = build(cfg.model, input_spec(torch.zeros(1, 1, 28, 28), len(cfg.classes)))
    save_checkpoint(checkpoint_path(cfg.work_dir, "t-r0"), model, Normalizer((72.9,), (90.0,)),
                    {"model_version": "t-r0"})
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(0)
        store.rounds.finish(0, "t-r0", 40)
    served = start_serve(path, cfg.work_dir)
    try:
        waited = time.monotonic() + 120
        while (first := httpx.post(f"{served.url}/predict", json={"tasks": []}, timeout=30)
               ).status_code != 200:  # 503 while the pool and the model load, past 2 s
            assert "serve.predict_deadline" in first.json()["error"], first.text
            assert time.monotonic() < waited, first.text
        body = {"tasks": [{"id": k, "data": {"image": f"http://127.0.0.1:{port}/{k}.png"}}
                          for k in range(3)]}
        took: list[tuple[float, int, dict]] = []

        def predict() -> None:
            started = time.perf_counter()
            answer = httpx.post(f"{served.url}/predict", json=body, timeout=60)
            took.append((time.perf_counter() - started, answer.status_code, answer.json()))

        clients = [threading.Thread(target=predict) for _ in range(12)]
        for client in clients:
            client.start()
        health = []
        while any(c.is_alive() for c in clients):
            started = time.perf_counter()
            assert httpx.get(f"{served.url}/health", timeout=30).status_code == 200
            health.append(time.perf_counter() - started)
            time.sleep(0.1)
        for client in clients:
            client.join()
    finally:
        out = served.stop()
        hang.shutdown()
    assert len(health) >= 10 and max(health) < 1.0, health
    assert len(took) == 12 and all(status == 200 for _, status, _ in took)
    assert max(seconds for seconds, _, _ in took) < deadline + 0.5, took  # client's clock
    errors = {e["error"] for _, _, answer in took for e in answer["results"]}
    assert all("not read within serve.predict_deadline (2 s)" in e for e in errors), errors
    assert "Traceback" not in out, out
