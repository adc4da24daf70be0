"""`activelearn cycle` against a real Label Studio server with model.weights: pool: the
first cycle draws the holdout, pretrains on the train split (never holdout, validation
or test items), picks the initial batch by typiclust on the pretrained embeddings; once
it is labelled, the next cycle trains the first model on the pretrained weights without
pretraining again, and serve predicts with that model."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.jobs.kinds import pretrain as kind
from activelearn.learn.checkpoints import checkpoint_name, metrics_name
from activelearn.project import PRETRAINED_KEY
from activelearn.project import Project as ProjectHandles
from activelearn.service.predict import ModelService
from support.loop import Project, cycle

pytestmark = pytest.mark.slow
PRETRAIN = {"epochs": 1, "batch_size": 64, "items_per_epoch": 512, "min_items": 100}


@pytest.mark.parametrize("mode", ["head", "finetune"])
def test_the_first_model_starts_from_the_pools_own_pretrained_weights(
        project_file, ls_env, ls_project_title, monkeypatch, mode) -> None:
    path = project_file(
        data={"limit": 2000},
        model={"name": "small_cnn", "weights": "pool", "train": mode},
        pretrain=PRETRAIN,
        loop={"initial": 20, "batch": 20, "budget": 200, "min_new_labels": 10,
              "min_queued": 0, "initial_strategy": "typiclust"},
        label_studio={"project_title": ls_project_title, "holdout": 20})
    result = CliRunner().invoke(main, ["init", "--config", str(path)])
    assert result.exit_code == 0, result.output
    out = cycle(path)
    assert "pushed 20 holdout tasks" in out and "pushed 20 initial" in out, out
    assert out.count("pretrained simclr for 1 epochs") == 1, out

    p = Project(path, ls_env)
    project = ProjectHandles(load_config(path))
    with p.store() as store:
        name = store.meta.get(PRETRAINED_KEY)
        splits = store.items.splits()
        initial = next(b for b in store.batches.all() if b["kind"] == "initial")
        assert initial["strategy"] == "typiclust"
    # the checkpoint and its provenance in the artifact store
    assert name and name.startswith("pretrained/") and project.artifacts.exists(name)
    key = name.removeprefix("pretrained/").removesuffix(".pt")
    info = project.artifacts.read_json(kind.info_name(key))
    assert info["key"] == key and info["epochs"] == 1 and len(info["sha256"]) == 64
    assert f"pretrained simclr for 1 epochs on {info['items']} train items" in out
    # it learnt from the train split only: its item count and its key (a digest of the
    # item ids) are the train split's, which holds no holdout, validation or test item
    pool = project.open_pool(refresh=False, build_cache=False)
    train = kind.train_positions(pool, splits)
    counts = {s: sum(v == s for v in splits.values()) for s in set(splits.values())}
    assert info["items"] == len(train) == counts["train"]
    assert counts["train"] == 2000 - 20  # the pool less the holdout
    assert counts["holdout"] == 20 and counts["validation"] + counts["test"] == 300
    assert kind.pretrain_key(kind.job_config(project.cfg), pool, train) == key
    kept_out = [i for i, item in enumerate(pool.item_ids) if splits[item] != "train"]
    assert kind.pretrain_key(kind.job_config(project.cfg), pool,
                             sorted([*train, kept_out[0]])) != key

    # the next cycle trains the first model on those weights, and pretrains nothing
    assert p.annotate() == 40
    monkeypatch.setattr(kind, "Pretrainer",
                        lambda *a, **k: pytest.fail("pretrained a second time"))
    out = cycle(path)
    assert "round 1: train" in out and "pretrained" not in out, out
    assert f"small_cnn, {mode} on weights {info['sha256'][:16]}" in out, out
    fetched = str(project.artifacts.path(name))
    metrics = project.artifacts.read_json(metrics_name("t-r1"))
    assert metrics["weights"] == fetched and metrics["weights_sha256"] == info["sha256"][:16]
    assert metrics["mode"] == mode and metrics["labels"] == 20
    meta = torch.load(project.artifacts.fetch(checkpoint_name("t-r1")),
                      weights_only=True)["meta"]
    assert meta["weights"] == fetched and meta["weights_sha256"] == info["sha256"][:16]
    with p.store() as store:
        assert store.meta.get(PRETRAINED_KEY) == name
    # serve resolves pool the same way: its predictions come from that model
    served = ModelService(ProjectHandles(load_config(path)))
    tasks = [{"id": i, "data": {"image": "data:,unused", "item_id": pool.item_ids[i]}}
             for i in kept_out[:3]]
    results = served.predict({"tasks": tasks})["results"]
    assert [r["model_version"] for r in results] == ["t-r1"] * 3, results
    assert served.cfg.model.weights == fetched
