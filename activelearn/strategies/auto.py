"""strategy.name: auto, budget-aware selection: typicality while labels are few,
uncertainty after.

With few labels a model's uncertainty says little (it is unsure about nearly
everything), and picking typical, representative items teaches more; with more labels
uncertainty sampling wins (Hacohen et al. 2022, "Active learning on a budget"). auto is
not a strategy but the rule that names one each round: strategy.auto_early (typiclust)
while the training set holds fewer than strategy.auto_switch_at labels, strategy.auto_late
(margin) from then on. The rule lives here only: simulate and the select job's controller
side ask strategy_for every round, and record the name it gives.
"""

from __future__ import annotations

from activelearn.config.strategy import AUTO_STRATEGY, StrategyConfig
from activelearn.errors import UnknownNameError
from activelearn.strategies.base import get_strategy


def strategy_for(strategy: StrategyConfig, labels: int) -> str:
    """The registered strategy that picks a round's batch when the training set holds
    `labels` labels (the holdout not counted): strategy.name, or with auto, auto_early
    below auto_switch_at labels and auto_late from auto_switch_at on."""
    if strategy.name != AUTO_STRATEGY:
        return strategy.name
    return strategy.auto_early if labels < strategy.auto_switch_at else strategy.auto_late


def strategies_of(strategy: StrategyConfig) -> list[str]:
    """Every registered strategy strategy.name may resolve to: itself, or with auto,
    auto_early and auto_late. Each is looked up, so a typo is a ConfigError that lists
    the available names before anything runs."""
    auto = strategy.name == AUTO_STRATEGY
    names = [strategy.auto_early, strategy.auto_late] if auto else [strategy.name]
    for name in names:
        try:
            get_strategy(name)
        except UnknownNameError as exc:
            if auto:
                raise
            raise UnknownNameError("strategy", name, [*exc.available, AUTO_STRATEGY]) from None
    return list(dict.fromkeys(names))
