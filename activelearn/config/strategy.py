"""`strategy`: how each batch is picked (a section of Config, kept beside schema.py)."""

from __future__ import annotations

from dataclasses import dataclass

# strategy.name: not a registered strategy but the rule that picks one of two by the
# labels so far (strategies.strategy_for)
AUTO_STRATEGY = "auto"


@dataclass(frozen=True)
class StrategyConfig:
    """The query strategy (`strategy:`): how each batch is picked from the
    unlabeled pool.

    Attributes:
        name {auto, badge, bald, cluster-margin, coreset, entropy, kmeans,
            least-confidence, margin, random, typiclust}: a registered strategy, or auto
            (budget-aware): auto_early while the training set holds fewer than
            auto_switch_at labels, auto_late from then on (typicality while labels are few,
            uncertainty after: Hacohen et al. 2022); each batch records which one picked it
        auto_early, auto_late {a registered strategy other than auto}: what auto picks with
            below auto_switch_at train labels, and from there on
        auto_switch_at [1, 10**8]: the train labels (the holdout not counted) from which
            auto picks with auto_late. Measured on Fashion-MNIST with the pool's own
            pretrained embeddings (3 seeds, docs/pretraining.md): typiclust beats random
            for the cold start (100 labels: 0.739 against 0.701), margin beats typiclust
            from the first model on (250 labels: 0.775 against 0.769; 500: 0.808 against
            0.792), so the default switches at the first model of a 100-label start;
            pair it with loop.initial_strategy: typiclust
        mc_passes [1, 1000]: dropout passes for BALD
        candidates [0, inf): score only a random subset of this many unlabeled items
            (0 = all)
        score_batch_size [1, 65536]: items per forward pass while scoring
        class_balance: pick class by class: the batch is shared equally among the model's
            predicted classes and the strategy picks within each (rare classes are not
            starved; any strategy)
        cost_weighted: rank by informativeness per expected second of annotation time: an
            item's score divided by the median lead time of its predicted class (Label
            Studio's lead_time of the annotations so far; a class without one gets the
            median over all; with no lead time at all, plain ranking). Only for strategies
            with a per-item score (margin, entropy, least-confidence, bald; with auto:
            auto_late, and auto_early's rounds only when it has one); composes with
            class_balance
    """

    name: str = "margin"
    auto_early: str = "typiclust"
    auto_late: str = "margin"
    auto_switch_at: int = 100
    mc_passes: int = 20
    candidates: int = 0
    score_batch_size: int = 256
    class_balance: bool = False
    cost_weighted: bool = False
