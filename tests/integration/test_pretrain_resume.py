"""A pretrain job on a real RQ worker (`activelearn worker`) with the artifact store on
S3 (moto's server), the worker killed with -9 in the middle of the second epoch (the
first epoch's checkpoint published): a new worker takes the retried job and goes on
after epoch 1, and the result is a checkpoint that loads as model.weights."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest

from activelearn.config import load_config
from activelearn.data.artifacts import ArtifactStore
from activelearn.failpoints import PAUSE_DIR_ENV, PAUSE_ENV
from activelearn.jobs.kinds import pretrain as kind
from activelearn.learn.backbones import load_backbone
from activelearn.project import Project
from support import ROOT
from support.holdout import draw_holdout
from support.jobs import Workers


@pytest.mark.slow
def test_a_killed_pretrain_worker_resumes_after_its_last_epoch(
        project_file, redis_url, s3_bucket, tmp_path) -> None:
    store_url = f"s3://{s3_bucket.name}/artifacts"
    path = project_file(
        model={"weights": "pool", "train": "head"},
        pretrain={"epochs": 3, "batch_size": 64, "items_per_epoch": 512, "min_items": 100},
        jobs={"redis_url": redis_url, "artifacts": store_url, "heartbeat": 1,
              "wait_for_worker": 120, "retries": 2})
    project = Project(load_config(path))
    draw_holdout(project)
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    workers = Workers(path)
    try:
        scratch = ["--artifacts", store_url, "--scratch"]
        first = workers.start(None, None, 1, "cpu", *scratch, str(tmp_path / "w0"),
                              **{PAUSE_ENV: "pretrain:epoch-2", PAUSE_DIR_ENV: str(pauses)})
        controller = subprocess.Popen(
            [sys.executable, "-m", "activelearn.cli", "pretrain", "--config", str(path),
             "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        reached = pauses / "pretrain-epoch-2.reached"
        deadline = time.monotonic() + 240
        while not reached.exists() and time.monotonic() < deadline:
            assert controller.poll() is None, controller.communicate()[0]
            time.sleep(0.1)
        assert reached.exists(), "the worker never reached epoch 2"
        remote = ArtifactStore(store_url, tmp_path / "look")
        with project.store() as store:
            pool = project.open_pool(store, refresh=False)
            positions = kind.train_positions(pool, store.items.splits())
        key = kind.pretrain_key(kind.job_config(project.cfg), pool, positions)
        assert remote.exists(kind.epoch_name(key, 1))  # epoch 1 is safe
        first.kill()  # -9, mid-epoch 2
        first.wait()
        workers.start(None, None, 1, "cpu", *scratch, str(tmp_path / "w1"))
        out, _ = controller.communicate(timeout=300)
    finally:
        workers.stop()
    assert controller.returncode == 0, out
    assert "went on after epoch 1" in out and "3 epochs" in out
    info = remote.read_json(kind.info_name(key))
    assert info["resumed_from"] == 1 and info["epochs"] == 3 and len(info["losses"]) == 3
    assert not remote.exists(kind.epoch_name(key, 3))
    model = dataclasses.replace(project.cfg.model, weights=str(remote.fetch(kind.result_name(key))))
    assert load_backbone(model, 1, (28, 28)).dim > 0
