"""strategy.name: auto (strategies/auto.py): auto_early while the training set holds
fewer than auto_switch_at labels, auto_late from then on; every name it may resolve to is
looked up before anything runs."""

from __future__ import annotations

import pytest

from activelearn.config import StrategyConfig
from activelearn.errors import UnknownNameError
from activelearn.strategies import strategies_of, strategy_for


def test_auto_switches_from_typicality_to_uncertainty_at_switch_at_labels() -> None:
    auto = StrategyConfig(name="auto", auto_switch_at=500)
    assert [strategy_for(auto, labels) for labels in (0, 499, 500, 501, 10**6)] == \
        ["typiclust", "typiclust", "margin", "margin", "margin"]


def test_auto_picks_with_the_configured_pair() -> None:
    auto = StrategyConfig(name="auto", auto_early="kmeans", auto_late="bald",
                          auto_switch_at=1)
    assert (strategy_for(auto, 0), strategy_for(auto, 1)) == ("kmeans", "bald")


def test_a_named_strategy_picks_whatever_the_labels() -> None:
    entropy = StrategyConfig(name="entropy", auto_switch_at=500)
    assert {strategy_for(entropy, labels) for labels in (0, 499, 500, 10**6)} == {"entropy"}


def test_strategies_of_names_what_may_pick_and_refuses_a_typo() -> None:
    assert strategies_of(StrategyConfig(name="auto")) == ["typiclust", "margin"]
    assert strategies_of(StrategyConfig(name="auto", auto_early="margin")) == ["margin"]
    assert strategies_of(StrategyConfig(name="bald")) == ["bald"]
    with pytest.raises(UnknownNameError, match=r"unknown strategy 'magrin'; available: "
                                               r"auto, badge, bald"):
        strategies_of(StrategyConfig(name="magrin"))
    with pytest.raises(UnknownNameError) as info:  # auto cannot pick auto
        strategies_of(StrategyConfig(name="auto", auto_late="magrin"))
    assert info.value.name == "magrin" and "auto" not in info.value.available
