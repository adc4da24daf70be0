"""Retention on a real S3-compatible server (moto's): the store's listing with sizes and
times, touch on a reused content-addressed name, removal that looks at the time again, a
pass that removes old artifacts and the controller's fetched copies of them, and a
worker's scratch pruned of copies the store no longer holds."""

from __future__ import annotations

import os
import time
from pathlib import Path

from activelearn.config import FASHION_MNIST_CLASSES, config_from_dict
from activelearn.data.artifacts import ArtifactStore
from activelearn.jobs.inputs import ARTIFACTS_ENV, SCRATCH_ENV
from activelearn.jobs.scratch import ScratchPruner, folder_bytes
from activelearn.loop.retention import (
    apply_retention,
    disk_usage,
    marker_name,
    retain_after_round,
)
from activelearn.project import Project


def test_listing_touch_and_a_removal_that_looks_again(s3_bucket, tmp_path: Path) -> None:
    store = ArtifactStore(f"s3://{s3_bucket.name}/run", tmp_path / "scratch")
    store.publish_bytes("models/t-r1.pt", b"m" * 100)
    store.publish_bytes("scores/t-r1/shard-a-0.npz", b"s" * 10)
    listed = store.list()
    assert [(a.name, a.size) for a in listed] == [("models/t-r1.pt", 100),
                                                  ("scores/t-r1/shard-a-0.npz", 10)]
    assert all(abs(a.modified - time.time()) < 120 for a in listed)  # the server's clock
    assert store.list("models") == listed[:1] and store.usage() == 110
    assert store.list("nothing") == []
    name = store.publish_content("snapshots", b"labels", ".json")
    first = store.list("snapshots")[0].modified
    time.sleep(1.1)  # S3 keeps whole seconds
    assert store.publish_content("snapshots", b"labels", ".json") == name  # reused: touched
    assert store.list("snapshots")[0].modified > first
    assert store.read_bytes(name) == b"labels"
    assert not store.remove(name, older_than=first + 0.5)  # it is newer now: it stays
    assert store.remove(name, older_than=time.time() + 120) and not store.exists(name)


def test_a_pass_on_s3_removes_old_artifacts_and_their_copies(s3_bucket, tmp_path: Path
                                                             ) -> None:
    project = Project(config_from_dict({
        "project": {"name": "t", "work_dir": str(tmp_path / "work")},
        "data": {"source": "fashion-mnist"}, "classes": list(FASHION_MNIST_CLASSES),
        "jobs": {"keep_models": 1, "artifacts": f"s3://{s3_bucket.name}/run"}}))
    arts = project.artifacts
    for name in ("models/t-r1.pt", "models/t-r2.pt", "scores/t-r1/shard-a-0.npz",
                 "snapshots/aaaa.json", marker_name("t-r1")):
        arts.publish_bytes(name, b"x" * 1000)
    with project.store() as store:
        for r in (1, 2):
            store.rounds.start(r)
            store.rounds.finish(r, f"t-r{r}", 10)
    time.sleep(1.1)  # round 2 starts a second after them (by the server's clock)
    arts.publish_bytes(marker_name("t-r2"), b"")
    arts.publish_bytes("scores/t-r2/shard-a-0.npz", b"y" * 10)  # since round 2 started
    assert arts.fetch("snapshots/aaaa.json").is_file()  # the publisher's copy
    with project.store() as store:
        swept = apply_retention(project, store)
    left = {a.name for a in arts.list()}
    assert left == {"models/t-r2.pt", "scores/t-r2/shard-a-0.npz", marker_name("t-r2")}
    assert swept.removed == 4 and swept.freed == 4000
    assert not (arts.copies / "snapshots" / "aaaa.json").exists()
    assert (arts.copies / "models" / "t-r2.pt").is_file()
    usage = disk_usage(project)
    assert usage["bytes"]["models"] == 1000 and usage["bytes"]["scores"] == 10
    assert usage["fetched"] == folder_bytes(arts.scratch) > 0


def test_a_worker_prunes_the_copies_its_store_dropped(s3_bucket, tmp_path: Path,
                                                      monkeypatch) -> None:
    url = f"s3://{s3_bucket.name}/run"
    scratch = tmp_path / "worker"
    monkeypatch.setenv(SCRATCH_ENV, str(scratch))
    monkeypatch.setenv(ARTIFACTS_ENV, url)
    controller = ArtifactStore(url, tmp_path / "controller")
    worker = ArtifactStore(url, scratch)
    for name in ("models/t-r1.pt", "scores/t-r1/shard-a-0.npz", "snapshots/a.json"):
        controller.publish_bytes(name, b"x" * 100)
        worker.fetch(name)
    leftover = worker.copies / "scores" / ".shard.123.abcd.tmp.npz"  # a killed download
    leftover.write_bytes(b"t")
    os.utime(leftover, (time.time() - 7200,) * 2)
    pruner = ScratchPruner.from_environment()
    # a new model seen: the stores listed; all they hold stays, the abandoned file goes
    assert pruner.after_job() == (1, 1) and not leftover.exists()
    controller.remove("scores/t-r1/shard-a-0.npz")
    controller.remove("snapshots/a.json")
    assert [pruner.after_job() for _ in range(3)] == [(0, 0)] * 3  # not due yet
    controller.publish_bytes("models/t-r2.pt", b"y" * 100)
    worker.fetch("models/t-r2.pt")  # a new model version reached the worker: due now
    assert pruner.after_job() == (2, 200)
    assert {p.relative_to(worker.copies).as_posix() for p in worker.copies.rglob("*")
            if p.is_file()} == {"models/t-r1.pt", "models/t-r2.pt"}
    assert not (worker.copies / "snapshots").exists()  # emptied folders go too


def test_a_bucket_that_is_gone_skips_the_pass_in_one_line(s3_bucket, tmp_path: Path) -> None:
    project = Project(config_from_dict({
        "project": {"name": "t", "work_dir": str(tmp_path / "work")},
        "data": {"source": "fashion-mnist"}, "classes": list(FASHION_MNIST_CLASSES),
        "jobs": {"artifacts": f"s3://{s3_bucket.name}-gone/run", "store_timeout": 5}}))
    lines: list[str] = []
    with project.store() as store:
        store.rounds.start(1)
        store.rounds.finish(1, "t-r1", 10)
        retain_after_round(project, store, lines.append)  # the round stays done
        assert store.rounds.last()["status"] == "done"
    assert len(lines) == 1 and lines[0].startswith("  retention skipped: artifact store s3://")
    assert "\n" not in lines[0] and "there is no bucket" in lines[0]
