"""Query strategies: which unlabeled candidates to send for labeling next.

Importing this package registers every built-in strategy; look one up with
`get_strategy(name)`, add one with the `register_strategy` class decorator.
`strategy_for(cfg.strategy, labels)` names the strategy of a round (strategy.name, or
what auto picks at that many labels: auto.py).
"""

from activelearn.strategies import (  # noqa: F401  (imported to register)
    badge,
    bald,
    cluster_margin,
    coreset,
    kmeans,
    random_sampling,
    typiclust,
    uncertainty,
)
from activelearn.strategies.auto import strategies_of, strategy_for
from activelearn.strategies.base import (
    Selection,
    SelectionInput,
    Strategy,
    available_strategies,
    get_strategy,
    register_strategy,
)
from activelearn.strategies.batch import candidate_positions, select_batch

__all__ = [
    "Selection",
    "SelectionInput",
    "Strategy",
    "available_strategies",
    "candidate_positions",
    "get_strategy",
    "register_strategy",
    "select_batch",
    "strategies_of",
    "strategy_for",
]
