"""Semi-supervised rounds: unlabelled pool items join a round's training (FixMatch with
FlexMatch's per-class thresholds; training.semi_supervised, see SemiSupervisedConfig).

Each labelled step also draws ratio x batch unlabelled images. The model's prediction on
a weak view (the training recipe's own augmentation) becomes the target of a strong view
(views.random_views: crop, jitter, erasing) where its confidence passes the class's
threshold. The caller (training._train) adds `weight x` this loss to the labelled one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from activelearn.config import TrainingConfig
from activelearn.data.imageset import ImageSet, batches
from activelearn.learn.inference import Normalizer
from activelearn.learn.views import ViewRecipe, random_views

STRONG = dict(crop=(0.35, 1.0), brightness=0.5, contrast=0.5, erase=0.5)
HEAD_DROPOUT = 0.3  # head mode: the strong view of an embedding is the embedding under dropout


class Consistency:
    """The unlabelled half of a semi-supervised round: draws unlabelled batches, makes
    their targets and returns their loss, step by step.

    unlabeled: the round's unlabelled train-pool images (an image set, or embeddings
        [items, dim] in head mode); classes: the number of classes
    """

    def __init__(self, unlabeled: ImageSet, classes: int, recipe: TrainingConfig,
                 norm: Normalizer, device: torch.device, gen: torch.Generator,
                 total_steps: int) -> None:
        self.cfg = recipe.semi_supervised
        self.recipe, self.norm, self.device, self.gen = recipe, norm, device, gen
        self.unlabeled = unlabeled
        self.size = recipe.batch_size * self.cfg.ratio
        self.start = int(self.cfg.warmup * total_steps)
        self.strong = ViewRecipe(hflip=recipe.hflip, **STRONG)  # type: ignore[arg-type]
        # FlexMatch's learning status: how many confident predictions each class got,
        # against the unlabelled draws not yet confidently predicted
        self.confident = torch.zeros(classes)
        self.unsure = 0
        self.masked: list[float] = []
        self._draws: Iterator[torch.Tensor] | None = None

    def _batches(self) -> Iterator[torch.Tensor]:
        """Unlabelled batches, forever, in random order (file images decoded in
        DataLoader workers, as for labelled batches)."""
        while True:
            order = torch.randperm(len(self.unlabeled), generator=self.gen)
            chunks = [order[i:i + self.size].numpy()
                      for i in range(0, len(order) - self.size + 1, self.size)] \
                or [order.numpy()]
            yield from batches(self.unlabeled, chunks, pin=self.device.type == "cuda")

    def thresholds(self) -> torch.Tensor:
        """[classes] the confidence each class's prediction needs (FlexMatch: the global
        threshold scaled down for classes the model is still learning, by the convex
        mapping beta / (2 - beta))."""
        t = self.cfg.threshold
        if not self.cfg.per_class:
            return torch.full_like(self.confident, t)
        top = max(float(self.confident.max()), float(self.unsure), 1.0)
        beta = self.confident / top
        return t * beta / (2 - beta)

    def loss(self, model: torch.nn.Module, step: int,
             augment) -> torch.Tensor | None:
        """The unlabelled loss of this step (None during the warm-up: labels only).
        augment: the recipe's weak augmentation, x -> x."""
        if step < self.start:
            return None
        if self._draws is None:
            self._draws = self._batches()
        x = self.norm(next(self._draws), self.device)
        with torch.no_grad():
            probs = F.softmax(model(augment(x)), dim=1)
        confidence, target = probs.max(dim=1)
        passed = confidence >= self.thresholds().to(x.device)[target]
        over = (confidence >= self.cfg.threshold).cpu()
        self.confident += torch.bincount(target.cpu()[over], minlength=len(self.confident))
        self.unsure += int((~over).sum())
        self.masked.append(float(passed.float().mean()))
        if not passed.any():
            return None
        strong = self._strong(x[passed])
        return F.cross_entropy(model(strong), target[passed], reduction="sum") / len(x)

    def _strong(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:  # embeddings
            return F.dropout(x, HEAD_DROPOUT, training=True)
        return random_views(x, self.strong, self.gen)

    def summary(self) -> dict[str, float]:
        """How much of the unlabelled draws passed the thresholds (mean share, last 10%)."""
        if not self.masked:
            return {"unlabeled_used": 0.0}
        tail = self.masked[-max(1, len(self.masked) // 10):]
        return {"unlabeled_used": float(np.mean(tail))}
