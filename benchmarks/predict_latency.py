"""/predict latency of `activelearn serve` on the CPU with the default CNN (issue 17:
p95 <= 150 ms for 10 tasks).

    .venv/bin/python benchmarks/predict_latency.py [--requests 200] [--tasks 10]
        [--threads 2] [--work-dir /tmp/predict-bench]

Builds (or, when WORK_DIR/project.yaml exists, reuses) a Fashion-MNIST project
(configs/fashion_mnist.yaml: small_cnn) whose state names one model, trained here with
the real recipe on --labels ground-truth labels (its accuracy on the test items is
printed); starts the real `activelearn serve` process; sends --requests POST /predict
of --tasks tasks each, one after the other on one kept-alive connection, as Label
Studio sends them: tasks activelearn pushed (item ids, read from the pool), then tasks
imported by hand (28x28 PNG data: URIs of test images, decoded per request). Prints
p50/p95/p99/max in ms, measured by the client (HTTP and JSON included), after 5
warm-up requests (the first loads the pool and the model). No Label Studio is needed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from activelearn.annotation.label_studio import image_data_uri, label_config  # noqa: E402
from activelearn.config import load_config  # noqa: E402
from activelearn.data.sources import open_pool  # noqa: E402
from activelearn.learn.checkpoints import checkpoint_path, save_checkpoint  # noqa: E402
from activelearn.learn.fit import fit, normalizer  # noqa: E402
from activelearn.state import Store  # noqa: E402
from support.serve import start_serve  # noqa: E402

TARGET_P95_MS = 150.0
VERSION = "predict-bench-r1"


def write_project(folder: Path, threads: int) -> Path:
    raw = yaml.safe_load((ROOT / "configs" / "fashion_mnist.yaml").read_text())
    raw["project"].update(name="predict-bench", work_dir=str(folder / "work"))
    raw["data"].update(limit=3000, test_limit=1000)
    raw["training"].update(threads=threads, device="cpu", min_steps=300, max_steps=300)
    # serve needs a Label Studio URL; nothing here asks it for anything
    raw["label_studio"] = {"url": "http://127.0.0.1:9", "project_title": "predict-bench"}
    raw["jobs"] = {"redis_url": ""}
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def train(path: Path, labels: int) -> None:
    """One model trained inline on `labels` ground-truth labels, recorded as round 1."""
    cfg = load_config(path)
    pool = open_pool(cfg)
    rng = np.random.default_rng(0)
    train_at = rng.choice(np.flatnonzero(~pool.is_test), labels, replace=False)
    images = pool.images[torch.from_numpy(train_at)]
    started = time.perf_counter()
    fitted = fit(images, pool.labels[train_at], len(cfg.classes), cfg.model, cfg.training,
                 normalizer(cfg.model, images), cfg.project.seed, torch.device("cpu"))
    tests = np.flatnonzero(pool.is_test)
    accuracy = fitted.predictor.evaluate(pool.images[torch.from_numpy(tests)],
                                         pool.labels[tests]).accuracy
    print(f"trained {VERSION} on {labels} labels in {time.perf_counter() - started:.1f} s: "
          f"accuracy {accuracy:.3f} on {len(tests)} test items")
    save_checkpoint(checkpoint_path(cfg.work_dir, VERSION), fitted.model,
                    fitted.predictor.norm, {"model_version": VERSION, "round": 1})
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(1)
        store.rounds.finish(1, VERSION, labels)


def bodies(path: Path, requests: int, tasks: int) -> tuple[list[bytes], list[bytes]]:
    """(item-id bodies, data-URI bodies): `requests` /predict bodies of `tasks` each."""
    cfg = load_config(path)
    pool = open_pool(cfg)
    rng = np.random.default_rng(1)
    config = label_config(list(cfg.classes))
    pool_ids = np.flatnonzero(~pool.is_test)
    tests = np.flatnonzero(pool.is_test)
    by_item, by_uri = [], []
    for r in range(requests):
        chosen = rng.choice(pool_ids, tasks, replace=False)
        by_item.append(json.dumps({"tasks": [
            {"id": 10_000 * r + k, "project": 1, "meta": {"item_id": pool.item_ids[i]},
             "data": {"image": "data:,unused", "item_id": pool.item_ids[i], "round": 1}}
            for k, i in enumerate(chosen)], "project": "1.1", "label_config": config,
            "params": {"login": None, "password": None, "context": None}}).encode())
        chosen = rng.choice(tests, tasks, replace=False)
        by_uri.append(json.dumps({"tasks": [
            {"id": 10_000 * r + k, "project": 1, "meta": {},
             "data": {"image": image_data_uri(pool.images[i].numpy())}}
            for k, i in enumerate(chosen)], "project": "1.1", "label_config": config,
            "params": {"login": None, "password": None, "context": None}}).encode())
    return by_item, by_uri


def timed(port: int, payloads: list[bytes], tasks: int) -> list[float]:
    """Milliseconds per request, one at a time on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out = []
    for body in payloads:
        start = time.perf_counter()
        connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        data = answer.read()
        out.append(1000 * (time.perf_counter() - start))
        results = json.loads(data)["results"] if answer.status == 200 else []
        if len(results) != tasks or not all("result" in r for r in results):
            raise SystemExit(f"/predict answered {answer.status}: {data[:300]!r}")
    return out


def report(name: str, ms: list[float]) -> None:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    verdict = "meets" if q[94] <= TARGET_P95_MS else "MISSES"
    print(f"{name}: {len(ms)} requests: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 "
          f"{q[98]:.1f} ms, max {max(ms):.1f} ms ({verdict} the target p95 <= "
          f"{TARGET_P95_MS:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2,
                        help="training.threads (torch) of a new project")
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.work_dir or Path(tempfile.mkdtemp(prefix="predict-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    path = folder / "project.yaml"
    if not path.exists():
        write_project(folder, args.threads)
        train(path, args.labels)
    by_item, by_uri = bodies(path, args.requests, args.tasks)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before; "
          f"torch threads {args.threads}")
    served = start_serve(path, folder / "work")
    try:
        port = int(served.url.rsplit(":", 1)[1])
        started = time.perf_counter()
        timed(port, by_item[:1], args.tasks)
        print(f"first request (loads the pool and the model): "
              f"{1000 * (time.perf_counter() - started):.0f} ms")
        timed(port, by_item[1:5] + by_uri[:5], args.tasks)
        report(f"item-id tasks ({args.tasks} a request)", timed(port, by_item, args.tasks))
        report(f"data-URI tasks ({args.tasks} a request)", timed(port, by_uri, args.tasks))
        print(f"load average {os.getloadavg()[0]:.2f} after")
    finally:
        served.stop()


if __name__ == "__main__":
    main()
