"""Training one model (seed article 3.7): cross-entropy, SGD with momentum, L1/L2.

Images stay uint8 in memory and are normalised batch by batch; on the CPU they are
fed in channels_last layout, which runs these small CNNs faster. File images (a lazy
image set) are decoded once per training when the labelled set fits in
IN_MEMORY_BYTES, else batch by batch in DataLoader workers, every epoch.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from activelearn.config import TrainingConfig
from activelearn.data.imageset import ImageSet, as_tensor, batches, is_lazy
from activelearn.learn.inference import Normalizer, head_threads
from activelearn.learn.networks import SplitModel
from activelearn.learn.semi import Consistency

log = logging.getLogger("activelearn.training")

IN_MEMORY_BYTES = 2**30  # a lazy labelled set up to this size is decoded once per training


@dataclass
class TrainResult:
    steps: int
    epochs: int
    final_loss: float
    epoch_losses: list[float]
    seconds: float
    unlabeled_used: float | None = None  # semi-supervised: share of draws that became targets


def epochs_for(labeled: int, recipe: TrainingConfig) -> int:
    """Enough passes for recipe.epochs, and for at least recipe.min_steps SGD steps."""
    steps_per_epoch = len(batch_bounds(labeled, recipe.batch_size))
    return max(recipe.epochs, math.ceil(recipe.min_steps / steps_per_epoch))


def batch_bounds(items: int, batch_size: int) -> list[tuple[int, int]]:
    """[start, end) of each mini-batch in an epoch. A remainder under half a batch joins
    the last batch: a batch of a few images gives batch norm noisy statistics and the
    step a noisy gradient (it cost ~1% test accuracy at 2,500 labels with batches of 64)."""
    starts = list(range(0, items, batch_size))
    if len(starts) > 1 and items - starts[-1] < batch_size / 2:
        starts.pop()
    return [(lo, min(items, hi)) for lo, hi in zip(starts, [*starts[1:], items])]


class Plan:
    """How long a training runs and its learning-rate factor at each step.

    A fixed budget (recipe.converge 0): epochs_for's steps, the schedule over all of them.
    Converging (recipe.converge > 0): the full rate until an epoch's training accuracy
    reaches recipe.converge and at least 2/3 of the budget has run (or 2/3 of the cap:
    recipe.max_steps, or the budget when that is more), then the schedule over half as
    many steps again. A labelled set that converges early trains for exactly the budget;
    one that does not, for up to max_steps.
    """

    def __init__(self, recipe: TrainingConfig, labeled: int) -> None:
        self.kind, self.converge = recipe.schedule, recipe.converge
        self.budget = epochs_for(labeled, recipe) * len(batch_bounds(labeled, recipe.batch_size))
        self.cap = max(self.budget, recipe.max_steps)
        self.anneal_from: int | None = None if self.converge > 0 else 0
        self.total = self.cap if self.converge > 0 else self.budget

    def factor(self, step: int) -> float:
        """The learning rate at step, as a share of recipe.lr."""
        if self.anneal_from is None:
            return 1.0
        progress = (step - self.anneal_from) / max(1, self.total - self.anneal_from)
        if self.kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        if self.kind == "step":
            return 0.1 ** (int(progress >= 0.5) + int(progress >= 0.75))
        return 1.0

    def after_epoch(self, step: int, train_accuracy: float) -> None:
        """Start annealing once converged (see the class)."""
        if self.anneal_from is not None:
            return
        converged = train_accuracy >= self.converge and step * 3 >= self.budget * 2
        if converged or step * 3 >= self.cap * 2:
            self.anneal_from = step
            self.total = min(self.cap, step + max(1, step // 2))

    def done(self, step: int) -> bool:
        return step >= self.total


def _balancing_weights(labels: np.ndarray) -> torch.Tensor:
    """[items] sampling weights that make every class present equally likely."""
    counts = np.bincount(labels)
    return torch.as_tensor(1.0 / counts[labels], dtype=torch.double)


def _l1_penalty(model: torch.nn.Module) -> torch.Tensor:
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    return torch.stack([w.abs().sum() for w in weights]).sum()


def augment(x: torch.Tensor, recipe: TrainingConfig, gen: torch.Generator) -> torch.Tensor:
    """Random resized crops (recipe.random_crop), left-right mirroring and random crops
    of the image padded by recipe.crop_pad pixels.

    x: [batch, channels, h, w] normalised; one random draw per image (from gen; the
    crops from torch's seeded global generator, as torchvision draws them). Embeddings
    ([batch, dim], head mode) are not augmented.
    """
    if x.ndim != 4:
        return x
    if recipe.random_crop is not None:
        x = random_resized_crop(x, recipe.random_crop)
    if recipe.hflip:
        flip = (torch.rand(len(x), generator=gen) < 0.5).to(x.device).view(-1, 1, 1, 1)
        x = torch.where(flip, x.flip(3), x)
    if recipe.crop_pad > 0:
        x = crop_with_padding(x, recipe.crop_pad, gen)
    return x


def crop_with_padding(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Each image padded by pad pixels of background (the batch's minimum: 0 before
    normalising) and cropped back to its size at a random offset (torchvision's
    RandomCrop(padding=pad), per image). x: [batch, channels, h, w]."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), value=float(x.amin()))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b, 1), generator=gen).to(x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols].contiguous(memory_format=torch.channels_last)


def random_resized_crop(x: torch.Tensor, scale: tuple[float, float]) -> torch.Tensor:
    """Each image cropped to a random part (area share in scale, aspect ratio 3/4 to
    4/3) and resized back to its size: torchvision's RandomResizedCrop, per image."""
    from torchvision.transforms import RandomResizedCrop
    from torchvision.transforms.v2 import functional as TF

    size = list(x.shape[2:])
    out = []
    for image in x:
        top, left, height, width = RandomResizedCrop.get_params(
            image, scale=list(scale), ratio=[3 / 4, 4 / 3])
        out.append(TF.resized_crop(image, top, left, height, width, size, antialias=True))
    return torch.stack(out).contiguous(memory_format=torch.channels_last)


def train_model(model: SplitModel, images: ImageSet, labels: np.ndarray,
                recipe: TrainingConfig, norm: Normalizer, seed: int,
                device: torch.device, progress: bool = True,
                unlabeled: ImageSet | None = None) -> TrainResult:
    """Fit the model in place with cross-entropy and SGD with momentum.

    images: [items, channels, h, w] uint8, an image set (head mode: embeddings [items,
    dim]); labels: [items] class indices. Weight decay is the L2 penalty; recipe.l1 adds
    an L1 penalty on the weights. unlabeled: the round's unlabelled train-pool images
    (same kind as images), used when recipe.semi_supervised is enabled (semi.py).
    """
    with head_threads(images, device):
        return _train(model, images, labels, recipe, norm, seed, device, progress, unlabeled)


def _train(model: SplitModel, images: ImageSet, labels: np.ndarray, recipe: TrainingConfig,
           norm: Normalizer, seed: int, device: torch.device, progress: bool,
           unlabeled: ImageSet | None) -> TrainResult:
    start = time.perf_counter()
    if is_lazy(images) and np.prod(images.shape) <= IN_MEMORY_BYTES:
        images = as_tensor(images)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.to(device).to(memory_format=torch.channels_last).train()
    y_all = torch.as_tensor(labels, dtype=torch.long)
    plan = Plan(recipe, len(labels))
    bounds = batch_bounds(len(labels), recipe.batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, plan.factor)
    weights = _balancing_weights(labels) if recipe.class_balanced else None
    semi = None
    if recipe.semi_supervised.enabled and unlabeled is not None and len(unlabeled):
        classes = int(labels.max()) + 1 if len(labels) else 1
        out = [m for m in model.head.modules() if isinstance(m, torch.nn.Linear)]
        semi = Consistency(unlabeled, out[-1].out_features if out else classes, recipe,
                           norm, device, gen, plan.total)
    epoch_losses: list[float] = []
    bar = tqdm(total=plan.total, desc="train", unit="step", leave=False, disable=not progress)
    step = 0
    while not plan.done(step):
        if weights is None:
            order = torch.randperm(len(labels), generator=gen)
        else:
            order = torch.multinomial(weights, len(labels), replacement=True, generator=gen)
        total, seen, correct = 0.0, 0, 0
        index_batches = [order[lo:hi] for lo, hi in bounds][:plan.total - step]
        for idx, batch in zip(index_batches, batches(images, index_batches,
                                                     pin=device.type == "cuda"), strict=True):
            x = augment(norm(batch, device), recipe, gen)
            y = y_all[idx].to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if recipe.l1 > 0:
                loss = loss + recipe.l1 * _l1_penalty(model)
            if semi is not None:
                extra = semi.loss(model, step, lambda u: augment(u, recipe, gen))
                if extra is not None:
                    loss = loss + recipe.semi_supervised.weight * extra
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += loss.item() * len(idx)
            seen += len(idx)
            correct += int((logits.argmax(1) == y).sum())
            bar.update()
        epoch_losses.append(total / seen)
        plan.after_epoch(step, correct / seen)
        bar.total = plan.total
        bar.set_postfix(loss=f"{epoch_losses[-1]:.3f}", acc=f"{correct / seen:.3f}")
    bar.close()
    model.eval()
    return TrainResult(step, len(epoch_losses), epoch_losses[-1], epoch_losses,
                       time.perf_counter() - start,
                       semi.summary()["unlabeled_used"] if semi is not None else None)
