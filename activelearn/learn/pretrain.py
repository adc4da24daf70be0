"""Self-supervised pretraining on the unlabelled pool: the configured network learns
from every pool item, labelled or not, before any label is asked for.

The method is SimCLR (Chen et al. 2020): two random views of each image (views.py)
go through the network and a small projection head, and the NT-Xent loss pulls the
two views of an image together and pushes the other images of the batch away. The
projection head is dropped afterwards; what is kept is a whole activelearn model (the
network's features and a fresh classifier head), usable as model.weights in head and
finetune mode. Why SimCLR: see docs/pretraining.md (measured against VICReg on this
project's pool at the same budget).

Training resumes: `Pretrainer.state()` is everything needed to go on after the last
finished epoch (weights, projection head, optimiser, schedule, random generator), and
`Pretrainer.resume(state)` takes it back.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from activelearn.data.imageset import ImageSet, batches
from activelearn.learn.inference import Normalizer
from activelearn.learn.networks import SplitModel
from activelearn.learn.views import ViewRecipe, random_views

log = logging.getLogger("activelearn.pretrain")


@dataclass(frozen=True)
class PretrainRecipe:
    """The pretraining's settings (config `pretrain:`, see PretrainConfig)."""

    method: str = "simclr"
    epochs: int = 20
    batch_size: int = 256
    lr: float = 0.5
    temperature: float = 0.2
    projection_dim: int = 64
    weight_decay: float = 1e-4
    views: ViewRecipe = field(default_factory=ViewRecipe)
    items_per_epoch: int = 0  # 0 = the whole pool every epoch

    def steps_per_epoch(self, items: int) -> int:
        """Full batches an epoch takes from a pool of `items` (items_per_epoch of them,
        or all)."""
        chosen = min(self.items_per_epoch or items, items)
        return max(1, chosen // self.batch_size)


@dataclass
class EpochReport:
    epoch: int
    loss: float
    seconds: float
    images_per_second: float


def projector(dim: int, out: int) -> nn.Module:
    """SimCLR's projection head: dim -> dim -> out, batch norm and ReLU between."""
    return nn.Sequential(nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim), nn.ReLU(),
                         nn.Linear(dim, out))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss for two views' projections [batch, dim]: each view must find its
    partner among the 2*batch - 1 others by cosine similarity / temperature."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def vicreg(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.0) -> torch.Tensor:
    """VICReg's loss (Bardes et al. 2022): invariance + variance + covariance terms,
    weights 25/25/1. Kept to compare methods (docs/pretraining.md)."""
    inv = F.mse_loss(z1, z2)
    loss = 25 * inv
    for z in (z1, z2):
        z = z - z.mean(dim=0)
        std = (z.var(dim=0) + 1e-4).sqrt()
        loss = loss + 25 * F.relu(1 - std).mean() / 2
        cov = (z.T @ z) / (len(z) - 1)
        off = cov - torch.diag(torch.diag(cov))
        loss = loss + off.pow(2).sum() / z.shape[1] / 2
    return loss


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "simclr": nt_xent, "vicreg": vicreg}


class Pretrainer:
    """SimCLR on a pool's images, epoch by epoch (resumable between epochs).

    model: the network to pretrain (its `features` are trained; its head is not used)
    images: the pool's items to learn from [items, channels, h, w] uint8 (an image set:
        file pools are decoded batch by batch); the caller leaves out holdout and test
    """

    def __init__(self, model: SplitModel, images: ImageSet, norm: Normalizer,
                 recipe: PretrainRecipe, seed: int, device: torch.device) -> None:
        self.model, self.images, self.norm = model, images, norm
        self.recipe, self.device = recipe, device
        self.loss_fn = LOSSES[recipe.method]
        self.project = projector(model.embedding_dim, recipe.projection_dim)
        torch.manual_seed(seed)
        self.model.to(device).to(memory_format=torch.channels_last)
        self.project.to(device)
        params = [*model.features.parameters(), *self.project.parameters()]
        self.opt = torch.optim.SGD(params, lr=recipe.lr, momentum=0.9,
                                   weight_decay=recipe.weight_decay)
        self.gen = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.history: list[EpochReport] = []

    @property
    def steps_per_epoch(self) -> int:
        return self.recipe.steps_per_epoch(len(self.images))

    def _lr(self, step: int) -> float:
        """Linear warm-up over the first epoch, then cosine to 0 (SimCLR's schedule)."""
        per_epoch = self.steps_per_epoch
        total = per_epoch * self.recipe.epochs
        if step < per_epoch:
            return self.recipe.lr * (step + 1) / per_epoch
        progress = (step - per_epoch) / max(1, total - per_epoch)
        return self.recipe.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def run_epoch(self, bar: tqdm | None = None) -> EpochReport:
        """One pass (recipe.items_per_epoch items, or all) of SimCLR; returns its report."""
        start = time.perf_counter()
        self.model.train()
        self.project.train()
        b, count = self.recipe.batch_size, len(self.images)
        order = torch.randperm(count, generator=self.gen)[: self.steps_per_epoch * b]
        index_batches = [order[i:i + b].numpy() for i in range(0, len(order), b)]
        total = 0.0
        for i, batch in enumerate(batches(self.images, index_batches,
                                          pin=self.device.type == "cuda")):
            step = self.epoch * self.steps_per_epoch + i
            for group in self.opt.param_groups:
                group["lr"] = self._lr(step)
            x = self.norm(batch, self.device)
            v1 = random_views(x, self.recipe.views, self.gen)
            v2 = random_views(x, self.recipe.views, self.gen)
            z = self.project(self.model.features(torch.cat([v1, v2])))
            loss = self.loss_fn(z[:len(x)], z[len(x):], self.recipe.temperature)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += float(loss.detach())
            if bar is not None:
                bar.update(len(x))
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{float(loss.detach()):.3f}")
        self.epoch += 1
        seconds = time.perf_counter() - start
        report = EpochReport(self.epoch, total / len(index_batches), seconds,
                             len(order) / seconds)
        self.history.append(report)
        self.model.eval()
        return report

    def state(self) -> dict:
        """Everything needed to go on after this epoch (tensors and plain values only,
        loadable with weights_only=True)."""
        return {"epoch": self.epoch, "model": self.model.state_dict(),
                "projector": self.project.state_dict(), "optimizer": self.opt.state_dict(),
                "generator": self.gen.get_state(),
                "history": [[r.epoch, r.loss, r.seconds, r.images_per_second]
                            for r in self.history]}

    def resume(self, state: dict) -> None:
        """Go on from a state() (the epoch after the last finished one)."""
        self.model.load_state_dict(state["model"])
        self.project.load_state_dict(state["projector"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["generator"])
        self.epoch = int(state["epoch"])
        self.history = [EpochReport(int(e), float(loss), float(s), float(r))
                        for e, loss, s, r in state["history"]]

