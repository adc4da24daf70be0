"""Training and inference on a small real Fashion-MNIST subset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activelearn.config import FASHION_MNIST_CLASSES, DataConfig, TrainingConfig
from activelearn.data.sources import load_source
from activelearn.learn import training
from activelearn.learn.checkpoints import load_checkpoint, save_checkpoint
from activelearn.learn.inference import Normalizer, Predictor, evaluate, predict
from activelearn.learn.models import build_model
from activelearn.learn.networks import InputSpec
from activelearn.learn.training import batch_bounds, epochs_for, train_model

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def subset(fmnist_root):
    pool = load_source(DataConfig(source="fashion-mnist", root=str(fmnist_root), limit=1000,
                                  test_limit=500), list(FASHION_MNIST_CLASSES))
    train, test = np.flatnonzero(~pool.is_test), np.flatnonzero(pool.is_test)
    return pool, train, test


def _fit(pool, idx, seed=0, **recipe):
    torch.manual_seed(seed)
    model = build_model("small_cnn", InputSpec(1, 28, 28, 10))
    norm = Normalizer.fit(pool.images)
    cfg = TrainingConfig(**{"epochs": 4, "min_steps": 80, "batch_size": 32, **recipe})
    result = train_model(model, pool.images[idx], pool.labels[idx], cfg, norm, seed, CPU,
                         progress=False)
    return model, norm, result


@pytest.mark.slow
def test_training_lowers_loss_and_beats_chance(subset):
    pool, train, test = subset
    model, norm, result = _fit(pool, train)
    assert result.epoch_losses[-1] < 0.6 * result.epoch_losses[0]
    metrics = evaluate(model, pool.images[test], pool.labels[test], norm, CPU)
    assert metrics.accuracy > 0.65, metrics.accuracy  # chance is 0.10
    assert np.array(metrics.confusion).sum() == len(test)


def test_l1_penalty_shrinks_weights(subset):
    pool, train, _ = subset

    def l1(model):
        return sum(p.abs().sum().item() for n, p in model.named_parameters()
                   if n.endswith("weight"))

    plain, _, _ = _fit(pool, train[:200], epochs=1, min_steps=30)
    sparse, _, _ = _fit(pool, train[:200], epochs=1, min_steps=30, l1=1e-3)
    assert l1(sparse) < 0.9 * l1(plain)


def test_training_is_deterministic_under_a_seed(subset):
    pool, train, _ = subset
    a, _, ra = _fit(pool, train[:128], epochs=1, min_steps=8)
    b, _, rb = _fit(pool, train[:128], epochs=1, min_steps=8)
    assert ra.epoch_losses == pytest.approx(rb.epoch_losses, rel=1e-5)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5)


def test_a_tiny_last_batch_joins_the_one_before():
    assert batch_bounds(2500, 64)[-2:] == [(2368, 2432), (2432, 2500)]
    assert batch_bounds(130, 64) == [(0, 64), (64, 130)]
    assert batch_bounds(100, 64) == [(0, 64), (64, 100)]  # 36 >= 32: its own batch
    assert batch_bounds(10, 64) == [(0, 10)]


def test_epochs_grow_for_small_labeled_sets():
    recipe = TrainingConfig(epochs=10, min_steps=300, batch_size=50)
    assert epochs_for(100, recipe) == 150  # 2 steps per epoch
    assert epochs_for(10_000, recipe) == 10


def test_predict_shapes_and_probabilities(subset):
    pool, train, test = subset
    model = build_model("small_cnn", InputSpec(1, 28, 28, 10), dropout=0.5)
    norm = Normalizer.fit(pool.images)
    scores = Predictor(model, norm, CPU, batch_size=32)(pool.images[test[:70]],
                                                        embeddings=True, mc_passes=4)
    assert scores.probs.shape == (70, 10)
    assert np.allclose(scores.probs.sum(axis=1), 1, atol=1e-5)
    assert scores.embeddings is not None and scores.embeddings.shape == (70, 128)
    assert scores.mc_probs is not None and scores.mc_probs.shape == (70, 10, 4)
    # dropout makes the passes differ from each other
    assert np.abs(scores.mc_probs[..., 0] - scores.mc_probs[..., 1]).max() > 1e-4


def test_checkpoint_round_trip(subset, tmp_path):
    pool, train, test = subset
    model, norm, _ = _fit(pool, train[:64], epochs=1, min_steps=4)
    save_checkpoint(tmp_path / "m.pt", model, norm, {"model_version": "v1", "round": 3})
    fresh = build_model("small_cnn", InputSpec(1, 28, 28, 10))
    norm2, meta = load_checkpoint(tmp_path / "m.pt", fresh)
    assert meta == {"model_version": "v1", "round": 3} and norm2 == norm
    a = predict(model, pool.images[test[:50]], norm, CPU).probs
    b = predict(fresh, pool.images[test[:50]], norm2, CPU).probs
    assert np.allclose(a, b, atol=1e-6)


def test_fast_inference_matches_the_eager_model(subset):
    pool, train, test = subset
    model, norm, _ = _fit(pool, train[:64], epochs=1, min_steps=4)
    images = pool.images[test[:37]]  # not a multiple of the batch size
    fast = Predictor(model, norm, CPU, batch_size=16)(images, embeddings=True)
    with torch.no_grad():
        model.eval()
        features = model.features(norm(images, CPU))
        eager = torch.softmax(model.head(features), dim=1).numpy()
    assert fast.embeddings is not None and fast.embeddings.shape == (37, 128)
    assert np.allclose(fast.embeddings, features.numpy(), atol=1e-4)
    assert np.allclose(fast.probs, eager, atol=1e-5)


def test_random_resized_crop_keeps_the_shape_and_changes_the_images():
    from activelearn.learn.training import random_resized_crop

    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16)
    out = random_resized_crop(x, (0.3, 0.6))
    assert out.shape == x.shape
    assert not torch.equal(out, x)


def test_file_images_train_and_score_like_their_tensor(tmp_path, subset):
    """A lazy file pool gives the same model as its decoded tensor (same seed), in
    memory and batch by batch through DataLoader workers."""
    from PIL import Image

    from activelearn.data.imageset import FileImages
    from activelearn.learn import training

    pool, train, _ = subset
    idx = train[:96]
    paths = []
    for i in idx:
        path = tmp_path / f"{i}.png"
        Image.fromarray(pool.images[int(i)][0].numpy()).save(path)
        paths.append(str(path))
    files = FileImages(paths, (28, 28), 1)
    norm = Normalizer.fit(pool.images)
    cfg = TrainingConfig(epochs=1, min_steps=6, batch_size=32, random_crop=(0.5, 1.0))
    results = []
    for images in (pool.images[idx], files):
        torch.manual_seed(0)
        model = build_model("small_cnn", InputSpec(1, 28, 28, 10))
        results.append((model, train_model(model, images, pool.labels[idx], cfg, norm, 0, CPU,
                                           progress=False)))
    assert results[0][1].epoch_losses == pytest.approx(results[1][1].epoch_losses, rel=1e-5)
    # too large to hold: decoded per batch, in worker processes
    old = training.IN_MEMORY_BYTES
    training.IN_MEMORY_BYTES = 0
    try:
        torch.manual_seed(0)
        model = build_model("small_cnn", InputSpec(1, 28, 28, 10))
        batched = train_model(model, files, pool.labels[idx], cfg, norm, 0, CPU, progress=False)
    finally:
        training.IN_MEMORY_BYTES = old
    assert batched.epoch_losses == pytest.approx(results[0][1].epoch_losses, rel=1e-5)
    a = Predictor(results[0][0], norm, CPU, 40)(pool.images[idx]).probs
    b = Predictor(results[0][0], norm, CPU, 40)(files).probs
    assert np.allclose(a, b, atol=1e-5)


def test_crop_with_padding_moves_each_image_within_the_padding():
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 4] = 1.0  # one bright pixel on a background of 0
    out = training.crop_with_padding(x, 2, gen)
    assert out.shape == x.shape
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(64))  # the pixel stays, whole
    where = out[:, 0].flatten(1).argmax(1)
    rows, cols = where // 8, where % 8
    assert set(rows.tolist()) == {1, 2, 3, 4, 5} and set(cols.tolist()) == {2, 3, 4, 5, 6}
    pad = torch.full((4, 1, 8, 8), -0.5)  # normalised background: the batch's minimum
    assert torch.equal(training.crop_with_padding(pad, 3, gen), pad)


def test_a_fixed_budget_plan_is_the_schedule_over_the_epochs():
    plan = training.Plan(TrainingConfig(epochs=2, min_steps=0, batch_size=10), 100)
    assert (plan.budget, plan.total) == (20, 20)
    assert plan.factor(0) == 1.0 and plan.factor(10) == pytest.approx(0.5)
    plan.after_epoch(10, 0.0)  # no effect: the budget is fixed
    assert not plan.done(19) and plan.done(20)


def test_a_converging_plan_anneals_after_convergence_or_at_the_cap():
    recipe = TrainingConfig(epochs=3, min_steps=0, batch_size=10, converge=0.9, max_steps=300)
    assert training.Plan(TrainingConfig(epochs=50, batch_size=10, converge=0.9, max_steps=300),
                         100).cap == 500  # never below the budget
    plan = training.Plan(recipe, 100)  # budget 30 steps
    plan.after_epoch(10, 0.95)  # converged, but under 2/3 of the budget: full rate on
    assert plan.anneal_from is None and plan.factor(15) == 1.0
    plan.after_epoch(20, 0.5)  # not converged
    assert plan.anneal_from is None
    plan.after_epoch(40, 0.93)
    assert (plan.anneal_from, plan.total) == (40, 60)
    assert plan.factor(50) == pytest.approx(0.5) and plan.done(60)
    capped = training.Plan(recipe, 100)
    capped.after_epoch(200, 0.1)  # 2/3 of max_steps: anneal whatever the accuracy
    assert (capped.anneal_from, capped.total) == (200, 300)


def test_converging_training_stops_on_the_rule_and_reports_its_steps(subset):
    pool, train, _ = subset
    _, _, result = _fit(pool, train[:96], epochs=1, min_steps=6, converge=0.5, max_steps=60)
    assert 6 <= result.steps <= 60
    _, _, capped = _fit(pool, train[:96], epochs=1, min_steps=6, converge=1.0, max_steps=30)
    assert capped.steps == 30


def test_class_balanced_batches_draw_rare_classes_as_often():
    labels = np.array([0] * 90 + [1] * 10)
    weights = training._balancing_weights(labels)
    drawn = torch.multinomial(weights, 10_000, replacement=True,
                              generator=torch.Generator().manual_seed(0))
    share = (torch.as_tensor(labels)[drawn] == 1).float().mean().item()
    assert share == pytest.approx(0.5, abs=0.03)
