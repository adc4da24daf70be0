"""Relabel or label new (activelearn.loop.relabel, state/relabels.py): which disputed items are
asked for another annotation, and that a pending request is not repeated. The round
trip through a real Label Studio is in test_quality.py."""

from __future__ import annotations

import re

import pytest

from activelearn.config import QualityConfig, config_from_dict
from activelearn.errors import ConfigError
from activelearn.kinds import BatchKind
from activelearn.loop.relabel import request_relabels
from activelearn.quality.relabel import Disputed, margin, rank_disputed
from activelearn.state import AnnotationRow, Store


def test_ties_go_first_then_close_majorities_then_fewer_votes_then_the_unsure_model():
    items = [Disputed("wide", 1, {0: 3, 1: 1}, 4, None),
             Disputed("close", 2, {0: 2, 1: 1}, 3, 0.9),
             Disputed("tie-of-4", 3, {0: 2, 1: 2}, 4, None),
             Disputed("tie-sure", 4, {0: 1, 1: 1}, 2, 0.9),
             Disputed("tie-unsure", 5, {2: 1, 3: 1}, 2, 0.4)]
    ranked = [d.item_id for d in rank_disputed(items)]
    assert ranked == ["tie-unsure", "tie-sure", "tie-of-4", "close", "wide"]
    assert [margin(d.votes) for d in items] == [2, 1, 0, 0, 0]


def _annotate(store: Store, round_: int, votes: dict[str, list[int]], start: int) -> None:
    """Record a pull that lists every item's task with these labels."""
    rows, seen, k = [], {}, start
    for n, (item_id, labels) in enumerate(sorted(votes.items())):
        seen[100 + n] = item_id
        for j, label in enumerate(labels):
            rows.append(AnnotationRow(k, 100 + n, item_id, label, f"u{j}", None, "t"))
            k += 1
    store.annotations.apply_pull(round_, seen, rows, [], "cursor", str(round_))


def test_requests_go_to_disputes_up_to_the_fraction_and_are_not_repeated(tmp_path):
    store = Store(tmp_path / "state.sqlite")
    ids = ["a", "b", "c", "d"]
    store.items.add((i, k, None, "train") for k, i in enumerate(ids))
    batch = store.batches.add(0, BatchKind.INITIAL, "random", 0, None, [(i, 0.0) for i in ids])
    store.tasks.record(batch, 0, {i: 100 + k for k, i in enumerate(ids)})
    _annotate(store, 1, {"a": [0, 1], "b": [2, 2], "c": [0, 0, 1], "d": [3, 4]}, 1)
    quality = QualityConfig(relabel_fraction=0.5)

    assert request_relabels(store, quality, 1, 4) == 2  # half of 4: the two ties
    assert sorted(i for i, *_ in store.relabels.all()) == ["a", "d"]
    assert sorted(store.relabels.unapplied(1)) == [("a", 100, 3), ("d", 103, 3)]
    assert request_relabels(store, quality, 1, 4) == 2  # a rerun of the phase: the same
    assert request_relabels(store, quality, 2, 4) == 1  # a and d wait: only c is left
    assert [i for i, r, *_ in store.relabels.all() if r == 2] == ["c"]

    _annotate(store, 3, {"a": [0, 1, 0], "b": [2, 2], "c": [0, 0, 1], "d": [3, 4]}, 10)
    assert [d.item_id for d in store.relabels.disputed(5)] == ["a"]  # answered: may be asked again
    assert store.relabels.disputed(3) == []  # a has 3 annotations: the cap
    assert request_relabels(store, QualityConfig(), 4, 4) == 0  # off by default
    store.close()


@pytest.mark.parametrize("values, expected", [
    ({"relabel_fraction": 1.0}, "quality.relabel_fraction: must be in [0, 1), got 1.0"),
    ({"relabel_max_annotations": 1},
     "quality.relabel_max_annotations: must be 2 or more, got 1")])
def test_config_rejects_a_relabel_share_of_everything_or_a_cap_below_two(values, expected):
    raw = {"project": {"name": "demo"}, "data": {"source": "fashion-mnist"},
           "classes": ["cat", "dog"], "quality": values}
    with pytest.raises(ConfigError, match=re.escape(expected)):
        config_from_dict(raw, source="project.yaml")
