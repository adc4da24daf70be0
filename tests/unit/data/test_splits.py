"""Train / validation / test splits: where each item goes, per-class counts, seeds."""

from __future__ import annotations

import numpy as np

from activelearn.config import SplitsConfig
from activelearn.data.splits import assign_splits, stratified_sample
from activelearn.kinds import UNKNOWN_LABEL


def per_class(labels: np.ndarray, mask: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(labels[mask], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def with_test_part() -> tuple[np.ndarray, np.ndarray]:
    """A pool of 30 labeled + 6 unlabeled items, then a test part of 20 per class (3 classes)."""
    pool = np.concatenate([np.repeat([0, 1, 2], 10), np.full(6, UNKNOWN_LABEL)])
    test = np.repeat([0, 1, 2], 20)
    labels = np.concatenate([pool, test])
    is_test = np.concatenate([np.zeros(len(pool), bool), np.ones(len(test), bool)])
    return labels, is_test


def without_test_part() -> np.ndarray:
    """40 labeled items per class (3 classes) and 20 unlabeled, shuffled."""
    labels = np.concatenate([np.repeat([0, 1, 2], 40), np.full(20, UNKNOWN_LABEL)])
    return np.random.default_rng(123).permutation(labels)


# --- stratified_sample ------------------------------------------------------------


def test_stratified_sample_takes_the_fraction_of_every_class() -> None:
    labels = np.concatenate([np.full(50, 0), np.full(10, 1), np.full(4, 2)])
    labels = np.random.default_rng(0).permutation(labels)
    chosen = stratified_sample(labels, 0.2, np.random.default_rng(1))
    assert len(set(chosen.tolist())) == len(chosen)
    assert np.all(np.diff(chosen) > 0)  # sorted positions
    assert per_class(labels, chosen) == {0: 10, 1: 2, 2: 1}


def test_stratified_sample_of_nothing() -> None:
    chosen = stratified_sample(np.zeros(0, np.int64), 0.5, np.random.default_rng(0))
    assert chosen.shape == (0,)


def test_stratified_sample_depends_on_the_generator() -> None:
    labels = np.repeat([0, 1], 50)
    a = stratified_sample(labels, 0.3, np.random.default_rng(0))
    b = stratified_sample(labels, 0.3, np.random.default_rng(0))
    c = stratified_sample(labels, 0.3, np.random.default_rng(1))
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


# --- with the source's test part --------------------------------------------------


def test_source_test_part_becomes_test_and_validation() -> None:
    labels, is_test = with_test_part()
    split = assign_splits(labels, is_test, SplitsConfig(validation_fraction=0.25), seed=0)
    assert set(split[~is_test]) == {"train"}
    assert set(split[is_test]) == {"test", "validation"}
    assert per_class(labels, split == "validation") == {0: 5, 1: 5, 2: 5}
    assert per_class(labels, split == "test") == {0: 15, 1: 15, 2: 15}


def test_unlabeled_items_in_the_test_part_are_never_candidates() -> None:
    labels, is_test = with_test_part()
    labels[-3:] = UNKNOWN_LABEL
    split = assign_splits(labels, is_test, SplitsConfig(validation_fraction=0.25), seed=0)
    assert split[-3:].tolist() == ["test"] * 3
    assert not np.any((split == "validation") & (labels == UNKNOWN_LABEL))


def test_no_validation_when_fraction_is_zero() -> None:
    labels, is_test = with_test_part()
    split = assign_splits(labels, is_test, SplitsConfig(validation_fraction=0.0), seed=0)
    assert split[is_test].tolist() == ["test"] * int(is_test.sum())


def test_source_test_off_ignores_the_test_part() -> None:
    labels, is_test = with_test_part()
    cfg = SplitsConfig(source_test=False, test_fraction=0.5, validation_fraction=0.0)
    split = assign_splits(labels, is_test, cfg, seed=0)
    # half of every class of all 90 labeled items (pool and test part together)
    assert per_class(labels, split == "test") == {0: 15, 1: 15, 2: 15}
    assert set(split[labels == UNKNOWN_LABEL]) == {"train"}


# --- without a test part ----------------------------------------------------------


def test_without_test_part_a_stratified_fraction_is_held_out() -> None:
    labels = without_test_part()
    cfg = SplitsConfig(test_fraction=0.25, validation_fraction=0.2)
    split = assign_splits(labels, np.zeros(len(labels), bool), cfg, seed=0)
    held_out = (split == "test") | (split == "validation")
    assert per_class(labels, held_out) == {0: 10, 1: 10, 2: 10}
    assert per_class(labels, split == "validation") == {0: 2, 1: 2, 2: 2}
    assert per_class(labels, split == "train") == {UNKNOWN_LABEL: 20, 0: 30, 1: 30, 2: 30}


def test_unlabeled_items_stay_in_train() -> None:
    labels = without_test_part()
    cfg = SplitsConfig(test_fraction=0.5, validation_fraction=0.5)
    split = assign_splits(labels, np.zeros(len(labels), bool), cfg, seed=3)
    assert set(split[labels == UNKNOWN_LABEL]) == {"train"}


# --- seeds ------------------------------------------------------------------------


def test_same_seed_same_splits_other_seed_other_splits() -> None:
    labels = without_test_part()
    is_test = np.zeros(len(labels), bool)
    cfg = SplitsConfig(test_fraction=0.25, validation_fraction=0.2)
    first = assign_splits(labels, is_test, cfg, seed=5)
    again = assign_splits(labels, is_test, cfg, seed=5)
    other = assign_splits(labels, is_test, cfg, seed=6)
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()
    # another seed draws other items, in the same per-class numbers
    assert per_class(labels, other == "test") == per_class(labels, first == "test")


def test_validation_draw_depends_on_the_seed_with_a_test_part() -> None:
    labels, is_test = with_test_part()
    cfg = SplitsConfig(validation_fraction=0.25)
    a = assign_splits(labels, is_test, cfg, seed=0)
    b = assign_splits(labels, is_test, cfg, seed=1)
    assert a.tolist() == assign_splits(labels, is_test, cfg, seed=0).tolist()
    assert a.tolist() != b.tolist()
