"""The sections of the project file about the labels' quality: gold items, disputed
labels and label-error review (`quality:`), duplicates and leakage (`cleaning:`). Part of
schema.py's Config."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QualityConfig:
    """Gold items, disputed labels and label-error review (`quality:`).

    Attributes:
        gold_file: CSV (header item_id,label) or JSON lines ({"item_id": ..., "label":
            ...}) of pool items with trusted labels; a label is a class name or a class
            index
        gold_rate [0, 1): the share of each query batch made of gold items (0 = none;
            above 0 needs gold_file). Gold tasks look like the others to annotators; their
            annotations score the annotators and never change the trusted label, which is
            the label they are trained on
        relabel_fraction [0, 1): the share of each selected batch (0 = none) spent on
            asking for one more annotation of items whose annotators disagreed, ties
            first, then the closest majorities, instead of new items: the task's overlap in
            Label Studio is raised by one, and the next pull resolves the majority with the
            new vote
        relabel_max_annotations [2, 100]: an item with this many annotations is not asked
            again
        review_per_round [0, inf): label-error review (0 = off): after each training, this
            many labelled train items whose label the model contradicts most confidently
            (judged by out-of-fold models, never by one trained on them) go back to Label
            Studio as review tasks; the reviewer's answer replaces the label, with history
        review_folds [2, 20]: out-of-fold models trained for the review (one job each)
        review_min_confidence [0, 1]: an item goes to review only when the out-of-fold
            model gives its own class at least this probability
    """

    gold_file: str = ""
    gold_rate: float = 0.0
    relabel_fraction: float = 0.0
    relabel_max_annotations: int = 5
    review_per_round: int = 0
    review_folds: int = 3
    review_min_confidence: float = 0.5


@dataclass(frozen=True)
class CleaningConfig:
    """Duplicate and leakage detection (`activelearn clean`, also run by `cycle`
    when new items appear; `cleaning:`).

    Attributes:
        near_threshold (0, 1]: the least correlation (after allowing a shift of up to 2
            pixels and ignoring brightness and contrast) at which two images count as
            near-duplicates; higher finds fewer, 1.0 keeps only exact copies
        propagate_labels: a label on a group's representative is copied to the other pool
            items of its group (label source "duplicate-of:<id>")
    """

    near_threshold: float = 0.985
    propagate_labels: bool = False
