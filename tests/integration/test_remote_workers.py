"""Workers on other machines: the controller and two workers each in a temporary folder
of their own (their own working directory and HOME), sharing only Redis (with TLS and a
password) and an S3 artifact store (moto's server), the images on that S3 server too.
A round against the real Label Studio pushes the batch the inline run pushes; a Python
audit hook in each worker records every file it opens under the test's folder, and none
lies outside its own folder. In head mode the workers embed the pool there, and a round
with a real redis-server restarted between its train and score jobs pushes the inline
batch with no duplicate task and no lost label."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from activelearn.config import FASHION_MNIST_CLASSES, DataConfig, load_config
from activelearn.data.sources import load_source
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from activelearn.kinds import BatchKind
from activelearn.state import Store
from support.loop import Project, cycle
from support.services import stop_process
from support.weights import saved_cnn

CLASSES = {"tshirt": 0, "trouser": 1, "bag": 8}  # folder name -> Fashion-MNIST class
PER_CLASS = 40
# a worker: the activelearn CLI under an audit hook that logs each file opened below
# $AUDIT_WATCH (and each SQLite database connected) to $AUDIT_LOG
AUDITED = """
import os, sys
watch, log = os.environ["AUDIT_WATCH"], open(os.environ["AUDIT_LOG"], "a", buffering=1)
def hook(event, args):
    if event in ("open", "sqlite3.connect", "os.listdir", "os.scandir") and args:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(path))
            if path.startswith(watch):
                log.write(f"{event} {path}\\n")
sys.addaudithook(hook)
from activelearn.cli import main
main(sys.argv[1:], prog_name="activelearn")
"""


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def s3_images(s3_bucket, fmnist_root) -> str:
    """PER_CLASS Fashion-MNIST images of each class as PNG files in class folders on the
    S3 server; returns the folder's s3:// URI."""
    pool = load_source(DataConfig("fashion-mnist", root=str(fmnist_root)),
                       list(FASHION_MNIST_CLASSES))
    images = pool.images.numpy()
    for name, label in CLASSES.items():
        for i in np.flatnonzero((pool.labels == label) & ~pool.is_test)[:PER_CLASS]:
            s3_bucket.put(f"images/{name}/{pool.item_ids[i]}.png", png(images[i, 0]))
    return f"s3://{s3_bucket.name}/images/"


def write_project(folder: Path, images: str, redis_url: str, artifacts: str,
                  title: str, cold_start: str = "random", **model: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    raw = {"project": {"name": "remote", "work_dir": str(folder / "work"), "seed": 0},
           "data": {"source": "imagefolder", "root": images, "channels": 1},
           "classes": list(CLASSES),
           "model": {"name": "small_cnn", "input_size": [28, 28], **model},
           "training": {"epochs": 3, "min_steps": 60, "batch_size": 32, "lr": 0.05,
                        "threads": 2},
           "strategy": {"name": "margin"},
           "loop": {"initial": 30, "batch": 20, "budget": 100, "min_new_labels": 20,
                    "initial_strategy": cold_start},
           "label_studio": {"project_title": title, "holdout": 20, "image_mode": "url"},
           "jobs": {"redis_url": redis_url, "artifacts": artifacts, "shard_size": 30,
                    "heartbeat": 1, "wait_for_worker": 60}}
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class RemoteWorkers:
    """`activelearn worker` processes, each in a folder of its own under `root`: its cwd,
    HOME, scratch and config file; given no path of the controller's. Stopped by pid."""

    def __init__(self, root: Path, images: str, redis_url: str, artifacts: str) -> None:
        self.root, self.images, self.redis_url = root, images, redis_url
        self.artifacts = artifacts
        self.procs: list[subprocess.Popen] = []

    def folder(self, k: int) -> Path:
        return self.root / f"worker-{k}"

    def start(self, n: int) -> None:
        for k in range(len(self.procs), len(self.procs) + n):
            home = self.folder(k)
            (home / "home").mkdir(parents=True)
            # the worker's own config: Redis, queues and the store it serves
            config = write_project(home, self.images, self.redis_url, self.artifacts,
                                   "unused")
            env = {key: value for key, value in os.environ.items()
                   if key not in ("PWD", "OLDPWD")}
            env.update(HOME=str(home / "home"), AUDIT_WATCH=str(self.root.parent),
                       AUDIT_LOG=str(home / "opened.log"))
            argv = [sys.executable, "-c", AUDITED, "worker", "--config", str(config),
                    "--threads", "2", "--device", "cpu", "--name", f"remote-{k}-{os.getpid()}",
                    "--work-dir", str(home), "--artifacts", self.artifacts,
                    "--scratch", str(home / "scratch")]
            self.procs.append(subprocess.Popen(argv, cwd=home, env=env, text=True,
                                               stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 90
        while not all((self.folder(k) / "scratch").exists() for k in range(len(self.procs))):
            assert time.monotonic() < deadline, "the workers did not start in 90 s"
            assert all(p.poll() is None for p in self.procs), self.output()
            time.sleep(0.2)

    def opened(self, k: int) -> list[str]:
        """The files worker k opened under the test's folder."""
        log = self.folder(k) / "opened.log"
        return log.read_text().splitlines() if log.exists() else []

    def output(self) -> str:
        return "\n".join(p.stdout.read() if p.stdout and p.poll() is not None else ""
                         for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            stop_process(proc)


class RestartableRedis:
    """A redis-server of the test's own on a fixed port, without persistence: a restart
    loses every queue, job and worker record, as a crashed server does."""

    def __init__(self, folder: Path) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.folder, self.proc = folder, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from redis import Redis
        from redis.exceptions import RedisError

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except (RedisError, OSError):
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


def round_of(path: Path, ls_env, workers: RemoteWorkers | None = None,
             restart: RestartableRedis | None = None) -> list:
    """Bootstrap, annotate everything, then one training round (with `restart`, Redis
    restarted between its train and score jobs): the query batch."""
    if workers is not None:
        workers.start(2)
    cycle(path)
    project = Project(path, ls_env)
    assert project.annotate() == 50  # holdout 20 + initial 30
    if restart is None:
        cycle(path)
    else:
        restarted_round(path, restart)
    return query_batch(path)


def restarted_round(path: Path, redis: RestartableRedis) -> None:
    """`cycle` as a real process, paused once it trained and evaluated (the score jobs
    are next) while the Redis server is restarted; then it goes on. redis-py reconnects
    to the new server; if a call still fails, the round stops with one line and the next
    run resumes it."""
    pause = path.parent / "pause"
    pause.mkdir()
    env = dict(os.environ, **{PAUSE_ENV: "after:evaluate", PAUSE_DIR_ENV: str(pause)})
    proc = subprocess.Popen([sys.executable, "-m", "activelearn.cli", "cycle", "--config",
                             str(path), "--no-progress"], cwd=path.parent, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (pause / "after-evaluate.reached").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the cycle did not train in 300 s"
        time.sleep(0.1)
    redis.stop()
    redis.start()
    (pause / "after-evaluate.go").touch()
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        assert proc.returncode == 1 and len(err.strip().splitlines()) == 1, err
        out += cycle(path)
    assert "selected 20 of" in out, out


def check_opened(workers: RemoteWorkers) -> None:
    """Each worker opened files under the test's folder only inside its own folder,
    and no SQLite database."""
    for k in range(2):
        opened = workers.opened(k)
        assert opened, "the audit hook saw nothing"  # it did watch: the worker's own files
        outside = [line for line in opened if not line.split(" ", 1)[1].startswith(
            str(workers.folder(k)))]
        assert outside == [], f"worker {k} opened files outside its folder: {outside[:5]}"
        assert not any(line.startswith("sqlite3") or "state.sqlite" in line
                       for line in opened)


def stored(bucket) -> set[str]:
    """The keys of the artifact store on the S3 server."""
    pages = bucket.client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket.name, Prefix="artifacts/")
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def query_batch(path: Path) -> list:
    with Store.open(load_config(path).work_dir / "state.sqlite") as store:
        (query,) = [b for b in store.batches.all() if b["kind"] == BatchKind.QUERY.value]
        return store.batches.items(query["batch_id"])


def test_workers_sharing_only_redis_and_s3_push_the_inline_batch(
        s3_images, s3_bucket, secure_redis, ls_env, ls_project_title, tmp_path,
        monkeypatch):
    inline = write_project(tmp_path / "inline", s3_images, "", "", ls_project_title + "-i")
    expected = round_of(inline, ls_env)
    assert len(expected) == 20

    controller = tmp_path / "controller"
    store = f"s3://{s3_bucket.name}/artifacts"
    path = write_project(controller, s3_images, secure_redis.url, store, ls_project_title)
    (controller / "home").mkdir()
    monkeypatch.chdir(controller)
    monkeypatch.setenv("HOME", str(controller / "home"))
    workers = RemoteWorkers(tmp_path / "workers", s3_images, secure_redis.url, store)
    try:
        assert round_of(path, ls_env, workers) == expected
    finally:
        workers.stop()
    check_opened(workers)
    # what the jobs made is in the S3 store, none of it in the controller's work dir
    keys = stored(s3_bucket)
    assert {"artifacts/models/remote-r1.pt", "artifacts/models/remote-r1.json"} <= keys
    assert any(k.startswith("artifacts/scores/remote-r1/shard-") for k in keys)
    assert any(k.startswith("artifacts/snapshots/") for k in keys)
    assert any(k.startswith("artifacts/catalogues/") for k in keys)
    assert not (controller / "work" / "models").exists()
    assert not (controller / "work" / "scores").exists()


def test_head_mode_on_workers_elsewhere_survives_a_redis_restart_and_pushes_the_inline_batch(
        s3_images, s3_bucket, ls_env, ls_project_title, tmp_path, monkeypatch):
    """A frozen backbone from a weights file only the controller has: the workers fetch it
    from the store, embed the pool there (the kmeans cold start reads those embeddings
    on the controller), and train and score the head on the published embeddings. A real
    redis-server (without persistence: a restart loses every queue, job and worker
    record) is restarted between the round's train and score jobs: the round completes
    with the inline batch, no task pushed twice and no label lost."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = RestartableRedis(tmp_path)
    redis.start()
    weights = tmp_path / "weights" / "pretrained.pt"
    weights.parent.mkdir()
    saved_cnn(weights)
    model = {"weights": str(weights), "train": "head", "cold_start": "kmeans"}
    inline = write_project(tmp_path / "inline", s3_images, "", "", ls_project_title + "-i",
                           **model)
    expected = round_of(inline, ls_env)
    controller = tmp_path / "controller"
    store = f"s3://{s3_bucket.name}/artifacts"
    path = write_project(controller, s3_images, redis.url, store, ls_project_title, **model)
    monkeypatch.chdir(controller)
    workers = RemoteWorkers(tmp_path / "workers", s3_images, redis.url, store)
    try:
        assert round_of(path, ls_env, workers, restart=redis) == expected
    finally:
        workers.stop()
        redis.stop()
    project = Project(path, ls_env)
    items = [t.data["item_id"] for t in project.tasks()]
    assert len(items) == len(set(items)) == 70  # holdout 20 + initial 30 + query 20
    with project.store() as state:
        assert len(state.labels.current()) == 50  # every annotation a label, once
    with Store.open(controller / "work" / "state.sqlite") as state:
        initial = [b for b in state.batches.all() if b["kind"] == BatchKind.INITIAL.value]
        assert [b["strategy"] for b in initial] == ["kmeans"]
    check_opened(workers)
    keys = stored(s3_bucket)
    assert any(k.startswith("artifacts/weights/") for k in keys)
    # embedded there: in a worker's own embedding cache (the outputs it published for
    # the controller's cache are removed by retention once the round has finished)
    assert any(list((workers.folder(k) / "scratch" / "projects").glob(
        "*/cache/embeddings-*.f16")) for k in range(2))
    assert not any(k.startswith("artifacts/embeddings/") for k in keys)
    assert any(k.startswith("artifacts/features/") for k in keys)
