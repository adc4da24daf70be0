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

log = logging.getLogger("activelearn.training")

IN_MEMORY_BYTES = 2**30  # a lazy labelled set up to this size is decoded once per training


@dataclass
class TrainResult:
    steps: int
    epochs: int
    final_loss: float
    epoch_losses: list[float]
    seconds: float


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


def _schedule(optimizer: torch.optim.Optimizer, kind: str, total: int):
    def factor(step: int) -> float:
        if kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * step / total))
        if kind == "step":
            return 0.1 ** (int(step >= total * 0.5) + int(step >= total * 0.75))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _l1_penalty(model: torch.nn.Module) -> torch.Tensor:
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    return torch.stack([w.abs().sum() for w in weights]).sum()


def augment(x: torch.Tensor, recipe: TrainingConfig, gen: torch.Generator) -> torch.Tensor:
    """Random resized crops (recipe.random_crop), left-right mirroring and translation by
    up to recipe.shift pixels.

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
    if recipe.shift > 0:
        h, w = x.shape[2:]
        shifts = torch.randint(-recipe.shift, recipe.shift + 1, (len(x), 2), generator=gen)
        theta = torch.zeros(len(x), 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, 0, 2] = shifts[:, 0] * 2.0 / w
        theta[:, 1, 2] = shifts[:, 1] * 2.0 / h
        grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
        # padding with the minimum keeps the background colour (0 before normalising)
        x = F.grid_sample(x - x.amin(), grid, mode="nearest", align_corners=False) + x.amin()
        x = x.contiguous(memory_format=torch.channels_last)
    return x


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
                device: torch.device, progress: bool = True) -> TrainResult:
    """Fit the model in place with cross-entropy and SGD with momentum.

    images: [items, channels, h, w] uint8, an image set (head mode: embeddings [items,
    dim]); labels: [items] class indices. Weight decay is the L2 penalty; recipe.l1 adds
    an L1 penalty on the weights.
    """
    with head_threads(images, device):
        return _train(model, images, labels, recipe, norm, seed, device, progress)


def _train(model: SplitModel, images: ImageSet, labels: np.ndarray, recipe: TrainingConfig,
           norm: Normalizer, seed: int, device: torch.device, progress: bool) -> TrainResult:
    start = time.perf_counter()
    if is_lazy(images) and np.prod(images.shape) <= IN_MEMORY_BYTES:
        images = as_tensor(images)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.to(device).to(memory_format=torch.channels_last).train()
    y_all = torch.as_tensor(labels, dtype=torch.long)
    epochs = epochs_for(len(labels), recipe)
    bounds = batch_bounds(len(labels), recipe.batch_size)
    steps_per_epoch = len(bounds)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    sched = _schedule(opt, recipe.schedule, epochs * steps_per_epoch)
    epoch_losses: list[float] = []
    bar = tqdm(total=epochs * steps_per_epoch, desc="train", unit="step", leave=False,
               disable=not progress)
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=gen)
        total = 0.0
        index_batches = [order[lo:hi] for lo, hi in bounds]
        for idx, batch in zip(index_batches, batches(images, index_batches,
                                                     pin=device.type == "cuda"), strict=True):
            x = norm(batch, device)
            x = augment(x, recipe, gen)
            loss = F.cross_entropy(model(x), y_all[idx].to(device))
            if recipe.l1 > 0:
                loss = loss + recipe.l1 * _l1_penalty(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            bar.update()
        epoch_losses.append(total / len(labels))
        bar.set_postfix(loss=f"{epoch_losses[-1]:.3f}")
    bar.close()
    model.eval()
    return TrainResult(epochs * steps_per_epoch, epochs, epoch_losses[-1], epoch_losses,
                       time.perf_counter() - start)
