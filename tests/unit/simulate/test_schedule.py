"""Label schedules: fixed batches, or label counts growing geometrically to the budget."""

from __future__ import annotations

import itertools

import pytest

from activelearn.config import LoopConfig
from activelearn.simulate import describe_schedule, label_schedule, next_batch


def schedule(**loop) -> list[int]:
    return list(itertools.islice(label_schedule(LoopConfig(**loop)), 1000))


def test_growth_doubles_the_labels_and_lands_on_the_budget():
    assert schedule(initial=500, budget=10_000, batch_growth=2) == \
        [500, 1000, 2000, 4000, 8000, 10_000]
    assert schedule(initial=500, budget=8000, batch_growth=2) == [500, 1000, 2000, 4000, 8000]


def test_growth_one_keeps_fixed_batches_and_the_short_last_one():
    assert schedule(initial=500, batch=500, budget=1800) == [500, 1000, 1500, 1800]
    assert next_batch(1500, LoopConfig(initial=500, batch=500, budget=1800)) == 300


def test_a_fractional_growth_rounds_each_count():
    # 100 * 1.5^k: 150, 225, 337.5 -> 338, then the budget
    assert schedule(initial=100, budget=400, batch_growth=1.5) == [100, 150, 225, 338, 400]


def test_each_batch_is_the_next_count_minus_the_current_one():
    loop = LoopConfig(initial=500, budget=10_000, batch_growth=2)
    assert [next_batch(n, loop) for n in (500, 1000, 2000, 4000, 8000, 10_000)] == \
        [500, 1000, 2000, 4000, 2000, 0]
    # a round that fell short (the pool ran out of candidates) aims at the same count
    assert next_batch(1900, loop) == 100


def test_a_growth_barely_above_one_still_adds_a_label_per_round():
    counts = schedule(initial=500, budget=510, batch_growth=1.000001)
    assert counts == list(range(500, 511))


def test_the_schedule_line_names_the_counts_and_the_rounds():
    assert describe_schedule(LoopConfig(initial=500, budget=4000, batch_growth=2)) == \
        "500, 1000, 2000, 4000 (4 rounds)"
    long = describe_schedule(LoopConfig(initial=1, batch=1, budget=50), shown=3)
    assert long == "1, 2, 3, ..., 50 (50 rounds)"


@pytest.mark.parametrize("growth", [0.5, 101.0])
def test_the_config_refuses_a_growth_out_of_range(growth):
    from activelearn.config.load import config_from_dict
    from activelearn.errors import ConfigError

    raw = {"project": {"name": "p"}, "data": {"source": "fashion-mnist"},
           "classes": ["a", "b"], "loop": {"batch_growth": growth}}
    with pytest.raises(ConfigError, match=r"loop\.batch_growth: must be 1 to 100 .* got "
                                          f"{growth}"):
        config_from_dict(raw, "p.yaml")


def test_an_explicit_schedule_gives_each_rounds_label_count():
    loop = {"initial": 100, "budget": 4000, "schedule": [100, 250, 500, 1000, 2000, 4000]}
    assert schedule(**loop) == [100, 250, 500, 1000, 2000, 4000]
    assert next_batch(300, LoopConfig(**loop)) == 200  # a short round aims at the next count
