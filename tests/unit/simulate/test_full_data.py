"""The full-data reference of `simulate --target-fraction`: trained once on every train
item of a tiny synthetic pool (seconds), cached by a digest of what determines it, reused."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from activelearn.config.load import config_from_dict
from activelearn.data.splits import assign_splits
from activelearn.learn.metrics import compute_metrics
from activelearn.simulate import full_data as full_data_module
from activelearn.simulate.full_data import full_data, full_data_digest
from activelearn.simulate.training import worst_class
from support.pools import tiny_pool


def tiny_config(tmp_path, **training):
    raw = {"project": {"name": "t", "work_dir": str(tmp_path / "work"), "seed": 3},
           "data": {"source": "fashion-mnist"}, "classes": ["dark", "light"],
           "model": {"name": "small_cnn"},
           "training": {"epochs": 1, "min_steps": 5, "batch_size": 16, "threads": 1,
                        "device": "cpu", **training}}
    return config_from_dict(raw, "t.yaml")


def splits_of(cfg, pool):
    return assign_splits(pool.labels, pool.is_test, cfg.splits, cfg.project.seed)


def test_measured_once_then_read_from_the_cache(tmp_path, monkeypatch):
    cfg, pool = tiny_config(tmp_path), tiny_pool()
    splits = splits_of(cfg, pool)
    first = full_data(cfg, pool, splits)
    assert not first.cached and first.labels == 60  # every train item, no test item
    assert 0.0 <= first.accuracy <= 1.0
    saved = json.loads(first.path.read_text())
    assert first.path == tmp_path / "work" / "full_data" / f"{first.digest}.json"
    assert saved == {"accuracy": first.accuracy, "macro_f1": first.macro_f1,
                     "seconds": first.seconds, "labels": 60, "config_digest": first.digest}
    assert f"measured in {first.seconds:.0f} s" in first.describe()

    def no_training(*args, **kwargs):
        raise AssertionError("the cached result should have been used")

    monkeypatch.setattr(full_data_module, "train_and_evaluate", no_training)
    again = full_data(cfg, pool, splits)
    assert again.cached and again.accuracy == first.accuracy
    assert f"cached from {first.path}" in again.describe()


def test_an_unreadable_cache_is_measured_again(tmp_path):
    cfg, pool = tiny_config(tmp_path), tiny_pool()
    splits = splits_of(cfg, pool)
    path = tmp_path / "work" / "full_data" / f"{full_data_digest(cfg, pool, splits, 1.0)}.json"
    path.parent.mkdir(parents=True)
    path.write_text("{half a file")
    assert not full_data(cfg, pool, splits).cached
    assert json.loads(path.read_text())["labels"] == 60


def test_the_digest_follows_the_recipe_and_the_pool_not_the_device(tmp_path):
    cfg, pool = tiny_config(tmp_path), tiny_pool()
    splits = splits_of(cfg, pool)
    digest = full_data_digest(cfg, pool, splits, 1.0)
    same = [tiny_config(tmp_path, threads=2), tiny_config(tmp_path, device="auto")]
    assert {full_data_digest(c, pool, splits, 1.0) for c in same} == {digest}
    changed = [
        full_data_digest(tiny_config(tmp_path, lr=0.01), pool, splits, 1.0),
        full_data_digest(tiny_config(tmp_path, epochs=2), pool, splits, 1.0),
        full_data_digest(dataclasses.replace(cfg, model=dataclasses.replace(
            cfg.model, dropout=0.5)), pool, splits, 1.0),
        full_data_digest(dataclasses.replace(cfg, project=dataclasses.replace(
            cfg.project, seed=4)), pool, splits, 1.0),
        full_data_digest(cfg, pool, splits, 20.0),  # an imbalanced train split
        full_data_digest(cfg, pool.subset(np.arange(90)), splits[:90], 1.0),  # other items
    ]
    assert digest not in changed and len(set(changed)) == len(changed)


def test_worst_class_is_the_lowest_recall_among_the_classes_present():
    # class 0: 2 of 4 right; class 1: 3 of 3; class 2: absent (recall 0, no support)
    metrics = compute_metrics(np.array([0, 0, 0, 0, 1, 1, 1]),
                              np.array([0, 0, 1, 1, 1, 1, 1]), 3)
    assert worst_class(metrics, ["a", "b", "c"]) == (pytest.approx(0.5), "a")


def test_the_reference_is_the_rounds_training_on_every_train_item(tmp_path):
    from activelearn.learn.checkpoints import resolve_device
    from activelearn.learn.fit import normalizer
    from activelearn.simulate.training import train_and_evaluate

    cfg, pool = tiny_config(tmp_path), tiny_pool()
    splits = splits_of(cfg, pool)
    found = full_data(cfg, pool, splits)
    round_like = train_and_evaluate(cfg, pool, splits, normalizer(cfg.model, pool.images),
                                    np.flatnonzero(splits == "train"), cfg.project.seed,
                                    resolve_device("cpu"), False)
    assert round_like.test is not None
    assert found.accuracy == round_like.test.accuracy
    assert found.macro_f1 == round_like.test.macro_f1
