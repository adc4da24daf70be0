"""Semi-supervised rounds (learn.semi) and the views they draw (learn.views), on real
Fashion-MNIST items."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from activelearn.config import FASHION_MNIST_CLASSES, DataConfig, ModelConfig, TrainingConfig
from activelearn.config.schema import SemiSupervisedConfig
from activelearn.data.sources import load_source
from activelearn.jobs.inputs import TrainingInputs
from activelearn.learn.fit import fit
from activelearn.learn.inference import Normalizer
from activelearn.learn.semi import Consistency
from activelearn.learn.views import ViewRecipe, random_views

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def pool(fmnist_root):
    return load_source(DataConfig(source="fashion-mnist", root=str(fmnist_root), limit=1200,
                                  test_limit=400), list(FASHION_MNIST_CLASSES))


def test_views_keep_the_shape_differ_per_image_and_repeat_under_a_seed(pool) -> None:
    norm = Normalizer.fit(pool.images)
    x = norm(pool.images[:16], CPU)
    recipe = ViewRecipe(hflip=True, erase=0.5)
    a = random_views(x, recipe, torch.Generator().manual_seed(1))
    b = random_views(x, recipe, torch.Generator().manual_seed(1))
    c = random_views(x, recipe, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, x)


def test_a_whole_crop_without_jitter_is_the_image_itself(pool) -> None:
    norm = Normalizer.fit(pool.images)
    x = norm(pool.images[:8], CPU)
    same = ViewRecipe(crop=(1.0, 1.0), ratio=(1.0, 1.0), brightness=0.0, contrast=0.0)
    assert torch.allclose(random_views(x, same, torch.Generator().manual_seed(0)), x,
                          atol=1e-4)


def test_flexmatch_lowers_the_threshold_of_classes_the_model_rarely_trusts() -> None:
    recipe = TrainingConfig(semi_supervised=SemiSupervisedConfig(enabled=True, threshold=0.9))
    semi = Consistency(torch.zeros(10, 4), 3, recipe, Normalizer((0.0,) * 4, (1.0,) * 4), CPU,
                       torch.Generator(), 100)
    semi.confident = torch.tensor([50.0, 10.0, 0.0])
    semi.unsure = 20
    t = semi.thresholds()
    assert t[0] == pytest.approx(0.9) and t[2] == 0.0 and 0 < t[1] < t[0]
    fixed = dataclasses.replace(recipe.semi_supervised, per_class=False)
    semi.cfg = fixed
    assert torch.allclose(semi.thresholds(), torch.full((3,), 0.9))


@pytest.mark.slow
def test_a_semi_supervised_fit_learns_from_unlabelled_items(pool) -> None:
    train = np.flatnonzero(~pool.is_test)
    test = np.flatnonzero(pool.is_test)
    labelled, rest = train[:100], train[100:]
    norm = Normalizer.fit(pool.images[torch.from_numpy(train)])
    semi = SemiSupervisedConfig(enabled=True, threshold=0.7, ratio=2, warmup=0.3)
    recipe = TrainingConfig(epochs=1, min_steps=60, batch_size=32, semi_supervised=semi)
    fitted = fit(pool.images[torch.from_numpy(labelled)], pool.labels[labelled], 10,
                 ModelConfig(), recipe, norm, 0, CPU,
                 unlabeled=pool.images[torch.from_numpy(rest)])
    assert fitted.result.unlabeled_used is not None and fitted.result.unlabeled_used > 0
    assert fitted.predictor.evaluate(pool.images[torch.from_numpy(test)],
                                     pool.labels[test]).accuracy > 0.3
    plain = fit(pool.images[torch.from_numpy(labelled)], pool.labels[labelled], 10,
                ModelConfig(), recipe, norm, 0, CPU)  # no unlabelled set: supervised
    assert plain.result.unlabeled_used is None


def test_the_unlabelled_set_holds_only_unlabelled_train_items() -> None:
    ids = [f"i{k}" for k in range(8)]
    splits = {"i0": "train", "i1": "train", "i2": "holdout", "i3": "test",
              "i4": "validation", "i5": "train", "i6": "train", "i7": "train"}
    inputs = TrainingInputs(None, None, {i: k for k, i in enumerate(ids)},  # type: ignore
                            ["i0"], np.array([1]), {"i2": 0}, splits,
                            Normalizer((0.0,), (1.0,)), copies={"i6"})
    assert inputs.unlabeled_rows().tolist() == [1, 5, 7]
