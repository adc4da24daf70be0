"""serve's predictions with model.weights: pool: the service resolves `pool` through the
Project as a cycle does (the pretrained checkpoint state records), so a head-mode model
reads the embeddings of the pool's own pretrained backbone and a finetuned one is built
on it; before the pool is pretrained (or when its checkpoint is gone) /predict, and the
service at its start, say in one line to run `activelearn cycle`."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch
import yaml

from activelearn.config import FASHION_MNIST_CLASSES, load_config
from activelearn.errors import StateError
from activelearn.learn.checkpoints import checkpoint_path, save_checkpoint
from activelearn.learn.embedding import pool_features
from activelearn.learn.fit import build, input_spec
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.learn.networks import InputSpec
from activelearn.loop.clean import record_items
from activelearn.project import PRETRAINED_KEY, Project
from activelearn.service.predict import ModelService
from activelearn.state import Store

NOT_PRETRAINED = ("model.weights: pool: the pool is not pretrained yet; run "
                  "`activelearn cycle` first")


def pool_project(folder, fmnist_root, train: str):
    raw = {"project": {"name": "t", "work_dir": str(folder / "work"), "seed": 0},
           "data": {"source": "fashion-mnist", "root": str(fmnist_root), "limit": 300,
                    "test_limit": 100},
           "classes": list(FASHION_MNIST_CLASSES),
           "model": {"name": "small_cnn", "weights": "pool", "train": train},
           "pretrain": {"epochs": 1, "batch_size": 64, "items_per_epoch": 128,
                        "min_items": 100},
           "training": {"threads": 1}, "label_studio": {"url": "http://127.0.0.1:1"}}
    (folder / "project.yaml").write_text(yaml.safe_dump(raw))
    return load_config(folder / "project.yaml")


def finish_round(cfg, model: torch.nn.Module, norm: Normalizer) -> None:
    """Round 0 done with model t-r0, its checkpoint in the artifact store."""
    save_checkpoint(checkpoint_path(cfg.work_dir, "t-r0"), model, norm, {})
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.rounds.start(0)
        store.rounds.finish(0, "t-r0", 40)


def pretrained(cfg) -> tuple[Project, object]:
    """The project after its pool was pretrained as a cycle does it (the splits in
    state, the result recorded), and its pool."""
    project = Project(cfg)
    with project.store() as store:
        pool = project.open_pool(store)
        record_items(store, pool, cfg.splits, 0)
        assert project.resolve_weights(store, pool, progress=False).trained
    return project, pool


def item_tasks(pool, positions: list[int]) -> list[dict]:
    return [{"id": i, "data": {"image": "data:,unused", "item_id": pool.item_ids[i]}}
            for i in positions]


def test_head_mode_predicts_on_the_pools_own_pretrained_backbone(tmp_path, fmnist_root):
    cfg = pool_project(tmp_path, fmnist_root, "head")
    project, pool = pretrained(cfg)
    features = pool_features(project.cfg, pool, torch.device("cpu")).float()
    torch.manual_seed(5)
    head = build(project.cfg.model, InputSpec(features.shape[1], 1, 1, 10))
    norm = Normalizer.fit(features)
    finish_round(cfg, head, norm)
    positions = [3, 17, 200]
    want = Predictor(head, norm, torch.device("cpu"))(features[positions]).probs

    service = ModelService(Project(load_config(cfg.path)))  # as `serve` builds it
    assert service.project.cfg.model.weights == "pool"
    service.warm_up()
    results = service.predict({"tasks": item_tasks(pool, positions)})["results"]
    with project.store() as store:
        name = store.meta.get(PRETRAINED_KEY)
    assert service.cfg.model.weights == str(project.artifacts.path(name))
    for row, entry in zip(want, results):
        assert entry["model_version"] == "t-r0"
        assert entry["result"][0]["value"]["choices"] == [cfg.classes[int(row.argmax())]]
        assert entry["score"] == pytest.approx(float(row.max()), abs=2e-3)


def test_finetune_mode_builds_on_the_pretrained_network(tmp_path, fmnist_root):
    cfg = pool_project(tmp_path, fmnist_root, "finetune")
    project, pool = pretrained(cfg)
    torch.manual_seed(5)
    model = build(project.cfg.model, input_spec(pool.images, 10))
    norm = Normalizer((72.9,), (90.0,))
    finish_round(cfg, model, norm)
    want = Predictor(model, norm, torch.device("cpu"))(pool.images[[4, 9]]).probs
    service = ModelService(Project(load_config(cfg.path)))
    results = service.predict({"tasks": item_tasks(pool, [4, 9])})["results"]
    assert [r["score"] for r in results] == pytest.approx(want.max(axis=1), abs=2e-3)


def test_before_the_pool_is_pretrained_predict_says_to_run_a_cycle(tmp_path, fmnist_root):
    from starlette.testclient import TestClient

    from activelearn.service.app import create_app

    cfg = pool_project(tmp_path, fmnist_root, "head")
    finish_round(cfg, build(cfg.model, InputSpec(128, 1, 1, 10)), Normalizer.fit(
        torch.randn(20, 128)))  # a model, say from before model.weights was pool
    service = ModelService(Project(cfg))
    with pytest.raises(StateError) as caught:
        service.warm_up()
    assert str(caught.value).startswith(NOT_PRETRAINED) and "\n" not in str(caught.value)
    lines: list[str] = []
    with TestClient(create_app(Project(cfg), "s" * 20, lines.append, warm=False)) as client:
        answer = client.post("/predict", json={"tasks": [
            {"id": 1, "data": {"image": "data:,unused", "item_id": "x"}}]})
        # the start-up load runs beside the requests: wait for its line (a busy machine)
        deadline = time.monotonic() + 30
        while not any(line.startswith("predictions:") for line in lines) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    assert answer.status_code == 503 and answer.json()["error"].startswith(NOT_PRETRAINED)
    assert any(line.startswith(f"predictions: {NOT_PRETRAINED}") for line in lines), lines


def test_a_recorded_checkpoint_gone_from_the_store_says_so(tmp_path, fmnist_root):
    cfg = pool_project(tmp_path, fmnist_root, "head")
    project, _ = pretrained(cfg)
    with project.store() as store:
        name = store.meta.get(PRETRAINED_KEY)
    project.artifacts.path(name).unlink()
    model = build(dataclasses.replace(cfg.model, weights=""), InputSpec(128, 1, 1, 10))
    finish_round(cfg, model, Normalizer.fit(torch.randn(20, 128)))
    with pytest.raises(StateError, match=f"pretrained weights {name} are missing from the "
                                         "artifact store .*; run `activelearn cycle`"):
        ModelService(Project(cfg)).warm_up()
