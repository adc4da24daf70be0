"""/health and /predict of `activelearn serve` while many /predict requests name task
images on a server that trickles or hangs (issue 27: /health p99 <= 1 s, each /predict
within its deadline).

    .venv/bin/python benchmarks/predict_load.py [--requests 45] [--tasks 4]
        [--deadline 5] [--max-fetches 8] [--waves 2] [--work-dir /tmp/predict-load]

Builds a small Fashion-MNIST project (300 items) whose state names one model (an
untrained small_cnn: the figures are about waiting, not accuracy); starts a local slow
image server in its own process (/trickle/ sends its headers, then one byte every
0.25 s; /hang/ takes the request and never answers) and the real `activelearn serve`
with serve.predict_deadline = --deadline, serve.max_fetches = --max-fetches and
serve.fetch allowing that server (127.0.0.1 and its port). Then --waves times: --requests
POST /predict at once, each of --tasks tasks naming slow URLs (trickling and hanging in
turn) and one task activelearn pushed (its item id: read from the pool, so it gets a
prediction whatever the URLs do), while another thread asks GET /health every 100 ms.
Prints /health p50/p99/max (and how many took over Label Studio's 1 s), each /predict's
latency against its deadline (measured by the client: HTTP and JSON included), and what
the tasks got, and how many lines (and tracebacks) serve logged. No Label Studio is
needed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from activelearn.config import load_config  # noqa: E402
from activelearn.data.sources import open_pool  # noqa: E402
from activelearn.learn.checkpoints import checkpoint_path, save_checkpoint  # noqa: E402
from activelearn.learn.fit import build, input_spec  # noqa: E402
from activelearn.learn.inference import Normalizer  # noqa: E402
from activelearn.state import Store  # noqa: E402
from support.serve import SECRET, free_port  # noqa: E402

HEALTH_TARGET_S = 1.0  # Label Studio's ML_TIMEOUT_HEALTH
HEALTH_EVERY_S = 0.1
VERSION = "predict-load-r1"


class Slow(BaseHTTPRequestHandler):
    """/trickle/...: 200 with a Content-Length of 100,000 and one byte every 0.25 s;
    /hang/...: nothing at all, for two minutes."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        try:
            if self.path.startswith("/trickle/"):
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                for _ in range(480):
                    self.wfile.write(b"\x89")
                    self.wfile.flush()
                    time.sleep(0.25)
            else:
                time.sleep(120)
        except OSError:  # the service gave up on it
            pass

    def log_message(self, *args: object) -> None:
        pass


def slow_server(port: int) -> None:
    ThreadingHTTPServer.request_queue_size = 512
    server = ThreadingHTTPServer(("127.0.0.1", port), Slow)
    server.daemon_threads = True
    server.serve_forever()


def write_project(folder: Path, slow_port: int, deadline: float, max_fetches: int) -> Path:
    raw = yaml.safe_load((ROOT / "configs" / "fashion_mnist.yaml").read_text())
    raw["project"].update(name="predict-load", work_dir=str(folder / "work"))
    raw["data"].update(limit=300, test_limit=100)
    raw["training"].update(threads=1, device="cpu")
    # serve needs a Label Studio URL; nothing here asks it for anything
    raw["label_studio"] = {"url": "http://127.0.0.1:9", "project_title": "predict-load"}
    raw["jobs"] = {"redis_url": ""}
    raw["serve"] = {"predict_deadline": deadline, "max_fetches": max_fetches,
                    "fetch": {"allow_hosts": [f"127.0.0.1:{slow_port}"],
                              "allow_networks": ["127.0.0.1/32"]}}
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    torch.manual_seed(0)
    model = build(cfg.model, input_spec(torch.zeros(1, 1, 28, 28), len(cfg.classes)))
    save_checkpoint(checkpoint_path(cfg.work_dir, VERSION), model,
                    Normalizer((72.9,), (90.0,)), {"model_version": VERSION})
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(1)
        store.rounds.finish(1, VERSION, 40)
    return path


def start_service(path: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """The real `activelearn serve` on a free port once it answers /metrics, its output
    into log (not a pipe: one nobody reads fills up and stops the service)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "activelearn.cli", "serve", "--config", str(path), "--port",
         str(port)], env=dict(os.environ, ACTIVELEARN_WEBHOOK_SECRET=SECRET), cwd=ROOT,
        stdout=log.open("w"), stderr=subprocess.STDOUT)
    waited = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        if time.monotonic() > waited:
            proc.kill()
            raise SystemExit("serve did not answer in 180 s")
        time.sleep(0.2)


def bodies(path: Path, slow_port: int, requests: int, tasks: int, wave: int) -> list[bytes]:
    items = open_pool(load_config(path)).item_ids
    out = []
    for r in range(requests):
        named = [{"id": 1000 * r + k, "data": {"image": (
            f"http://127.0.0.1:{slow_port}/{('trickle', 'hang')[k % 2]}/{wave}-{r}-{k}.png")}}
            for k in range(tasks)]
        pushed = {"id": 1000 * r + tasks, "data": {"image": "data:,unused",
                                                    "item_id": items[r % len(items)]}}
        out.append(json.dumps({"tasks": [*named, pushed]}).encode())
    return out


def post(port: int, body: bytes, timeout: float) -> tuple[float, int, dict]:
    """(seconds, status, JSON answer) of one POST /predict."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    data = answer.read()
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, answer.status, json.loads(data) if data else {}


def poll_health(port: int, stop: threading.Event, seconds: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            connection.request("GET", "/health")
            answer = connection.getresponse()
            answer.read()
            connection.close()
            ok = answer.status == 200
        except OSError:
            ok = False
        seconds.append(time.perf_counter() - started if ok else float("inf"))
        stop.wait(max(0.0, HEALTH_EVERY_S - (time.perf_counter() - started)))


def wave(port: int, payloads: list[bytes], deadline: float) -> tuple[list[float], list]:
    """(/health seconds, [(seconds, status, answer)] of each /predict) of one wave."""
    health: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll_health, args=(port, stop, health))
    poller.start()
    time.sleep(0.5)  # a few unloaded looks first
    answers: list = [None] * len(payloads)

    def one(i: int) -> None:
        try:
            answers[i] = post(port, payloads[i], timeout=max(300.0, 3 * deadline))
        except OSError as exc:
            answers[i] = (float("inf"), 0, {"error": str(exc)})

    clients = [threading.Thread(target=one, args=(i,)) for i in range(len(payloads))]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    time.sleep(0.5)
    stop.set()
    poller.join()
    return health, answers


def report(n: int, health: list[float], answers: list, deadline: float, tasks: int) -> bool:
    q = statistics.quantiles(health, n=100, method="inclusive")
    slow = sum(s > HEALTH_TARGET_S for s in health)
    health_ok = q[98] <= HEALTH_TARGET_S
    print(f"wave {n}: /health x{len(health)}: p50 {1000 * q[49]:.0f} ms, p99 "
          f"{1000 * q[98]:.0f} ms, max {1000 * max(health):.0f} ms; {slow} over "
          f"{HEALTH_TARGET_S:g} s ({'meets' if health_ok else 'MISSES'} p99 <= "
          f"{HEALTH_TARGET_S:g} s)")
    seconds = sorted(a[0] for a in answers)
    over = sum(s > deadline for s in seconds)
    statuses = sorted({a[1] for a in answers})
    predicted = late = other = 0
    for *_, answer in answers:
        for entry in answer.get("results", []):
            if "result" in entry:
                predicted += 1
            elif "predict_deadline" in entry.get("error", ""):
                late += 1
            else:
                other += 1
    print(f"wave {n}: /predict x{len(answers)} (HTTP {statuses}): min {seconds[0]:.2f} s, "
          f"p50 {statistics.median(seconds):.2f} s, max {seconds[-1]:.2f} s against a "
          f"deadline of {deadline:g} s; {over} over ({'meets' if not over else 'MISSES'} "
          "each within its deadline)")
    print(f"wave {n}: tasks: {predicted} predicted (the pushed ones: {len(answers)}), "
          f"{late} not read by the deadline, {other} other errors, of "
          f"{len(answers) * (tasks + 1)}")
    return health_ok and not over and statuses == [200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=45)
    parser.add_argument("--tasks", type=int, default=4, help="slow URLs per request")
    parser.add_argument("--deadline", type=float, default=5.0, help="serve.predict_deadline")
    parser.add_argument("--max-fetches", type=int, default=8, help="serve.max_fetches")
    parser.add_argument("--waves", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.work_dir or Path(tempfile.mkdtemp(prefix="predict-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    slow_port = free_port()
    slow = multiprocessing.get_context("spawn").Process(target=slow_server, args=(slow_port,),
                                                        daemon=True)
    slow.start()
    path = write_project(folder, slow_port, args.deadline, args.max_fetches)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before")
    log = folder / "serve.log"
    served, port = start_service(path, log)
    try:
        first = bodies(path, slow_port, 1, 0, 0)[0]
        seconds, status, _ = post(port, first, 300)
        print(f"first /predict (loads the pool and the model): {seconds:.2f} s, HTTP {status}")
        ok = True
        for n in range(1, args.waves + 1):
            payloads = bodies(path, slow_port, args.requests, args.tasks, n)
            health, answers = wave(port, payloads, args.deadline)
            ok = report(n, health, answers, args.deadline, args.tasks) and ok
        seconds, status, answer = post(port, first, 300)
        print(f"after the waves: a /predict of one pushed task: {1000 * seconds:.0f} ms, "
              f"HTTP {status}, {'predicted' if 'result' in answer['results'][0] else answer}")
        print(f"load average {os.getloadavg()[0]:.2f} after; "
              f"{'all targets met' if ok else 'a target MISSED'}")
    finally:
        served.terminate()
        served.wait(timeout=60)
        slow.terminate()
    text = log.read_text()
    print(f"serve's log ({log}): {len(text.splitlines())} lines, "
          f"{text.count('Traceback')} tracebacks")


if __name__ == "__main__":
    main()
