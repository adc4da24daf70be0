"""Train, predict, evaluate and checkpoint (seed article 3.7-3.8).

Images stay uint8 in memory and are normalised batch by batch; on the CPU they are
fed in channels_last layout, which runs these small CNNs about 3x faster.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from activelearn.config import TrainingConfig
from activelearn.metrics import Metrics, compute_metrics
from activelearn.models import SplitModel, fuse_for_inference

log = logging.getLogger("activelearn.training")


def resolve_device(name: str) -> torch.device:
    """'auto' -> the first CUDA device when one is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass(frozen=True)
class Normalizer:
    """Per-channel mean and std (in 0..255 units) of the pool, stored with the model."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, images: torch.Tensor) -> Normalizer:
        """images: [items, channels, height, width] uint8."""
        sample = images[:: max(1, len(images) // 10000)].float()
        mean = sample.mean(dim=(0, 2, 3))
        std = sample.std(dim=(0, 2, 3)).clamp_min(1.0)
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    def __call__(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        """uint8 [batch, channels, h, w] -> normalised float32 on device, channels_last."""
        x = batch.to(device, non_blocking=True).float()
        mean = torch.tensor(self.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, -1, 1, 1)
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


@dataclass
class TrainResult:
    steps: int
    epochs: int
    final_loss: float
    epoch_losses: list[float]
    seconds: float


def epochs_for(labeled: int, recipe: TrainingConfig) -> int:
    """Enough passes for recipe.epochs, and for at least recipe.min_steps SGD steps."""
    steps_per_epoch = max(1, math.ceil(labeled / recipe.batch_size))
    return max(recipe.epochs, math.ceil(recipe.min_steps / steps_per_epoch))


def _schedule(optimizer: torch.optim.Optimizer, kind: str, total: int):
    def factor(step: int) -> float:
        if kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * step / total))
        if kind == "step":
            return 0.1 ** (int(step >= total * 0.5) + int(step >= total * 0.75))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _l1_penalty(model: torch.nn.Module) -> torch.Tensor:
    return sum(p.abs().sum() for n, p in model.named_parameters() if n.endswith("weight"))


def train_model(model: SplitModel, images: torch.Tensor, labels: np.ndarray,
                recipe: TrainingConfig, norm: Normalizer, seed: int,
                device: torch.device, progress: bool = True) -> TrainResult:
    """Fit the model in place with cross-entropy and SGD with momentum.

    images: [items, channels, h, w] uint8; labels: [items] class indices.
    Weight decay is the L2 penalty; recipe.l1 adds an L1 penalty on the weights.
    """
    start = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.to(device).to(memory_format=torch.channels_last).train()
    y_all = torch.as_tensor(labels, dtype=torch.long)
    epochs = epochs_for(len(labels), recipe)
    steps_per_epoch = math.ceil(len(labels) / recipe.batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    sched = _schedule(opt, recipe.schedule, epochs * steps_per_epoch)
    epoch_losses: list[float] = []
    bar = tqdm(total=epochs * steps_per_epoch, desc="train", unit="step", leave=False,
               disable=not progress)
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=gen)
        total = 0.0
        for start_i in range(0, len(order), recipe.batch_size):
            idx = order[start_i:start_i + recipe.batch_size]
            x = norm(images[idx], device)
            if recipe.hflip:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                x = torch.where(flip.to(device).view(-1, 1, 1, 1), x.flip(3), x)
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


@dataclass
class Scores:
    """Model outputs over a set of items.

    probs: [items, classes]; embeddings: [items, dim] (penultimate layer) or None;
    mc_probs: [items, classes, passes] (MC dropout on the head) or None.
    """

    probs: np.ndarray
    embeddings: np.ndarray | None = None
    mc_probs: np.ndarray | None = None


@torch.inference_mode()
def predict(model: SplitModel, images: torch.Tensor, norm: Normalizer, device: torch.device,
            batch_size: int = 512, embeddings: bool = False, mc_passes: int = 0,
            progress: bool = False, desc: str = "score") -> Scores:
    """Run the model over images ([items, channels, h, w] uint8) in batches.

    The convolutional features are computed once per batch; MC-dropout passes only
    re-sample the head, so BALD costs little more than one plain pass.
    """
    model.to(device).to(memory_format=torch.channels_last).eval()
    features = fast_features(model, norm(images[:batch_size], device), device)
    probs, embs, mcs = [], [], []
    bar = tqdm(total=len(images), desc=desc, unit="img", unit_scale=True, leave=False,
               disable=not progress)
    for start in range(0, len(images), batch_size):
        feats = features(norm(images[start:start + batch_size], device))
        probs.append(F.softmax(model.head(feats), dim=1).float().cpu())
        if embeddings:
            embs.append(feats.float().cpu())
        if mc_passes:
            mcs.append(_mc_probs(model, feats, mc_passes).cpu())
        bar.update(len(feats))
    bar.close()
    return Scores(
        probs=torch.cat(probs).numpy() if probs else np.zeros((0, 0), np.float32),
        embeddings=torch.cat(embs).numpy() if embeddings and embs else None,
        mc_probs=torch.cat(mcs).numpy() if mc_passes and mcs else None,
    )


def fast_features(model: SplitModel, example: torch.Tensor,
                  device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model's feature extractor, rewritten for fast inference.

    Batch norm is folded into the convolutions. On the CPU the result is also traced
    and frozen with TorchScript's optimize_for_inference, which keeps activations in
    oneDNN's blocked layout between layers (about 1.5x faster than eager channels_last
    here). TorchScript is deprecated upstream, so any failure falls back to eager.
    example: [batch, channels, h, w] a normalised input batch.
    """
    fused = fuse_for_inference(model.features).to(device)
    if device.type != "cpu" or len(example) == 0:
        return fused
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            traced = torch.jit.trace(fused, example, check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    except Exception as exc:  # noqa: BLE001 - any TorchScript failure: eager still works
        log.info("TorchScript inference unavailable (%s); using eager mode", exc)
        return fused


def _mc_probs(model: SplitModel, feats: torch.Tensor, passes: int) -> torch.Tensor:
    """feats: [batch, dim] -> [batch, classes, passes] with dropout active in the head."""
    linear = model.head[-1]
    stacked = feats.unsqueeze(0).expand(passes, *feats.shape)
    dropped = F.dropout(stacked, p=model.dropout, training=True)
    return F.softmax(linear(dropped), dim=2).permute(1, 2, 0).float()


def evaluate(model: SplitModel, images: torch.Tensor, labels: np.ndarray, classes: int,
             norm: Normalizer, device: torch.device, batch_size: int = 512) -> Metrics:
    """Metrics of the model's argmax predictions against labels ([items] class indices)."""
    scores = predict(model, images, norm, device, batch_size)
    return compute_metrics(labels, scores.probs.argmax(axis=1), classes)


def save_checkpoint(path: Path, model: SplitModel, norm: Normalizer, meta: dict) -> None:
    """Write model weights, normaliser and metadata (model version, round, config) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "norm": [norm.mean, norm.std], "meta": meta}, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, model: SplitModel) -> tuple[Normalizer, dict]:
    """Load weights into model; returns the normaliser and metadata saved with them."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(ckpt["model"])
    mean, std = ckpt["norm"]
    return Normalizer(tuple(mean), tuple(std)), ckpt["meta"]
