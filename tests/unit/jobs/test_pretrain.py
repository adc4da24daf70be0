"""The pretrain job on real Fashion-MNIST items: it learns from the train split only,
changes the network's features, and its result serves as model.weights: pool in head
mode (embeddings, the cold start) and finetune mode; a pool too small, a corrupted epoch
checkpoint and a digest set with pool are each one line."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.data.sources import open_pool
from activelearn.errors import ConfigError, JobError
from activelearn.jobs.kinds import get_kind
from activelearn.jobs.kinds import pretrain as kind
from activelearn.kinds import Split
from activelearn.learn.backbones import load_backbone
from activelearn.learn.embedding import (
    cold_start,
    pool_features,
    pool_keys,
    project_embedder,
)
from activelearn.learn.fit import build, input_spec
from activelearn.learn.models import build_model
from activelearn.learn.pretrain import Pretrainer
from activelearn.project import PRETRAINED_KEY, Project
from support.holdout import draw_holdout

PRETRAIN = {"epochs": 1, "batch_size": 64, "items_per_epoch": 256, "min_items": 100}


@pytest.fixture
def pool_project(project_file):
    path = project_file(model={"name": "small_cnn", "weights": "pool", "train": "head"},
                        loop={"initial_strategy": "typiclust", "initial": 20},
                        pretrain=PRETRAIN)
    return load_config(path)


def splits_of(pool) -> dict[str, str]:
    """Test items (the source's), then among the others 50 holdout and 50 validation
    items; the rest train."""
    splits = {}
    others = 0
    for item, is_test in zip(pool.item_ids, pool.is_test):
        if is_test:
            splits[item] = Split.TEST.value
            continue
        splits[item] = (Split.HOLDOUT.value if others < 50 else Split.VALIDATION.value
                        if others < 100 else Split.TRAIN.value)
        others += 1
    return splits


@pytest.mark.slow
def test_pretraining_learns_from_train_items_only_and_serves_head_and_finetune(
        pool_project, monkeypatch) -> None:
    handed = []

    class Recording(Pretrainer):
        def __init__(self, model, images, *args, **kwargs) -> None:
            handed.append(images)
            super().__init__(model, images, *args, **kwargs)

    monkeypatch.setattr(kind, "Pretrainer", Recording)
    project = Project(pool_project)
    pool = open_pool(project.cfg)
    splits = splits_of(pool)
    made = project.pretrain(None, pool, splits, progress=False)
    # exactly the train items, in pool order: no holdout, validation or test item
    train = [i for i, item in enumerate(pool.item_ids) if splits[item] == "train"]
    assert len(handed) == 1 and len(handed[0]) == len(train) == len(pool) - 300 - 100
    assert torch.equal(handed[0], pool.images[torch.tensor(train)])
    assert made.trained and made.info["items"] == len(train)
    assert made.info["epochs"] == 1 and made.info["images_per_second"] > 0
    assert made.name == f"pretrained/{made.key}.pt"
    # model.weights: pool now names the fetched checkpoint, which loads as a backbone
    model = project.cfg.model
    assert model.weights == str(project.artifacts.path(made.name))
    backbone = load_backbone(model, 1, (28, 28))
    x = pool.images[:64].float()
    torch.manual_seed(pool_project.project.seed)
    fresh = build_model("small_cnn", input_spec(pool.images, 10), 0.25).features.eval()
    norm_x = (x - backbone.mean[0]) / backbone.std[0]
    with torch.no_grad():
        assert not torch.allclose(backbone.features.eval()(norm_x), fresh(norm_x), atol=1e-3)
    # head mode: the embedding cache, and the typiclust cold start on it
    features = pool_features(project.cfg, pool, torch.device("cpu"), progress=False)
    assert project_embedder(project.cfg, pool).features(*pool_keys(pool)).shape == \
        features.shape  # cached
    assert features.shape == (len(pool), backbone.dim)
    chosen = cold_start("typiclust", features, np.array(train), 20, 0)
    assert len(set(chosen.tolist())) == 20 and set(chosen.tolist()) <= set(train)
    # finetune mode: the pretrained network with a new head
    tuned = build(dataclasses.replace(model, train="finetune"), input_spec(pool.images, 10))
    assert tuned.head[1].out_features == 10
    # the same pool and recipe: reused, not trained again
    handed.clear()
    again = Project(pool_project).pretrain(None, pool, splits, progress=False)
    assert not again.trained and again.name == made.name and not handed
    assert project.artifacts.read_json(f"pretrained/{made.key}.json")["sha256"] == \
        made.info["sha256"]


def test_a_pool_too_small_is_one_line(pool_project) -> None:
    cfg = dataclasses.replace(pool_project, pretrain=dataclasses.replace(
        pool_project.pretrain, min_items=100_000))
    project = Project(cfg)
    pool = open_pool(cfg)
    with pytest.raises(ConfigError) as caught:
        project.pretrain(None, pool, splits_of(pool), progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{len(pool) - 400} train items" in message and "pretrain.min_items" in message


@pytest.mark.slow
def test_a_corrupted_epoch_checkpoint_is_one_line_and_restart_starts_over(
        pool_project) -> None:
    cfg = dataclasses.replace(pool_project, pretrain=dataclasses.replace(
        pool_project.pretrain, epochs=2))
    project = Project(cfg)
    pool = open_pool(cfg)
    splits = splits_of(pool)
    key = kind.pretrain_key(kind.job_config(cfg), pool, kind.train_positions(pool, splits))
    broken = project.artifacts.path(kind.epoch_name(key, 1))
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(JobError) as caught:
        project.pretrain(None, pool, splits, progress=False)
    message = str(caught.value)
    assert "\n" not in message and str(broken) in message
    assert "delete it to start over" in message and "--restart" in message
    assert broken.exists()  # nothing else lost: the file stays for the user to look at
    made = project.pretrain(None, pool, splits, progress=False, restart=True)
    assert made.trained and made.info["resumed_from"] == 0 and made.info["epochs"] == 2
    assert not broken.exists()


@pytest.mark.slow
def test_a_job_resumes_after_its_last_epoch_checkpoint(pool_project) -> None:
    """An epoch checkpoint left by a killed job: the next job goes on after it."""
    cfg = dataclasses.replace(pool_project, pretrain=dataclasses.replace(
        pool_project.pretrain, epochs=2))
    project = Project(cfg)
    pool = open_pool(cfg)
    splits = splits_of(pool)
    positions = kind.train_positions(pool, splits)
    job_cfg = kind.job_config(cfg)
    key = kind.pretrain_key(job_cfg, pool, positions)
    trainer = kind._trainer(job_cfg, pool, positions)
    trainer.run_epoch()
    kind._publish_epoch(project.artifacts, key, trainer)
    made = project.pretrain(None, pool, splits, progress=False)
    assert made.info["resumed_from"] == 1 and made.info["epochs"] == 2
    assert not project.artifacts.exists(kind.epoch_name(key, 1))  # done: dropped
    assert not project.artifacts.exists(kind.epoch_name(key, 2))


def test_pool_weights_with_a_digest_is_a_config_error(project_file) -> None:
    path = project_file(model={"weights": "pool", "weights_sha256": "0" * 64})
    with pytest.raises(ConfigError, match="model.weights_sha256: model.weights pool"):
        load_config(path)


def test_the_kind_is_registered_on_the_gpu_queue_with_its_timeout(pool_project) -> None:
    pretrain = get_kind("pretrain")
    assert pretrain.queue_name(pool_project.jobs) == pool_project.jobs.gpu_queue
    assert pretrain.timeout_s(pool_project.jobs) == 14400


@pytest.mark.slow
def test_the_command_pretrains_the_train_split_of_state_and_records_it(
        project_file) -> None:
    path = project_file(model={"weights": "pool", "train": "head"}, pretrain=PRETRAIN)
    runner = CliRunner()
    result = runner.invoke(main, ["pretrain", "--config", str(path), "--no-progress"])
    assert result.exit_code == 1 and "holdout is not drawn yet" in result.output
    train = draw_holdout(Project(load_config(path)))
    result = runner.invoke(main, ["pretrain", "--config", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"on {train} train items, 1 epochs" in result.output
    assert "use it: model.weights: pool" in result.output
    project = Project(load_config(path))
    with project.store() as store:
        name = store.meta.get(PRETRAINED_KEY)
        assert name and name in result.output
        assert project.resolve_weights(store) is None  # the recorded one
    assert project.cfg.model.weights == str(project.artifacts.path(name))
    result = runner.invoke(main, ["pretrain", "--config", str(path), "--no-progress"])
    assert result.exit_code == 0 and "reused the pretraining" in result.output
