"""`training.semi_supervised`: unlabeled pool items in every round's training (a section
of TrainingConfig, kept beside schema.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SemiSupervisedConfig:
    """Semi-supervised rounds (`training.semi_supervised:`): unlabeled train-pool items
    (never holdout, validation or test items) join every round's training, in simulate,
    the train job and the out-of-fold models alike. FixMatch (Sohn et al. 2020): each
    step also draws `ratio` unlabeled images per labeled one; the model's prediction on
    a lightly augmented view becomes the target of a strongly augmented view (random
    resized crop, brightness/contrast jitter, erasing) when it is confident enough. With
    per_class, a class's threshold is lowered while the model is confident on few of its
    items (FlexMatch's flexible thresholds, Zhang et al. 2021).

    Every model.train mode takes it. In head mode (model.train: head) the items are the
    backbone's cached embeddings, not images: there is nothing to crop or jitter, so the
    strong view of an embedding is the embedding under dropout, and the head learns
    from the confident predictions on the unlabeled embeddings.

    Attributes:
        enabled: true turns it on
        threshold (0, 1]: the confidence a prediction needs to become a target
        ratio [1, 64]: unlabeled images per labeled image in each step (each step costs
            about 1 + 2 x ratio times a supervised step)
        weight (0, 100]: the unlabeled loss's weight against the labeled one
        per_class: FlexMatch's per-class thresholds (true) or one threshold for all
        warmup [0, 1): the share of the round's steps that train on labels only, before
            unlabeled targets count (a model from scratch is not yet worth copying)
    """

    enabled: bool = False
    threshold: float = 0.95
    ratio: int = 2
    weight: float = 1.0
    per_class: bool = True
    warmup: float = 0.2
