"""Inference: scoring images with a trained model, and evaluating it.

On the CPU the model's features run as a frozen TorchScript graph in oneDNN's
layout with batch norm folded in (see fast_features); images stay uint8 in memory
and are normalised batch by batch. Images are any image set (data.imageset): a uint8
tensor, or file images decoded batch by batch in DataLoader workers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from activelearn.data.imageset import (
    ImageSet,
    as_tensor,
    batches,
    is_lazy,
    sample_positions,
    slices,
)
from activelearn.learn.metrics import Metrics, compute_metrics
from activelearn.learn.networks import SplitModel, fuse_for_inference

log = logging.getLogger("activelearn.inference")

# Every this many batches the scoring loop hands freed heap memory back to the system
# (glibc's malloc_trim). Without it the batches' freed activations stay in the process
# and fragment: scoring 180,000 images of 32x32 at 256 a batch grew the resident memory by
# 3 MB a batch, to 2.7 GB; trimming every 64 batches kept it near 1.1 GB for about 5%
# more time (every 10: 0.9 GB, 30% more time).
TRIM_EVERY = 64


@dataclass(frozen=True)
class Normalizer:
    """Per-channel mean and std (in 0..255 units) of the pool, stored with the model; for
    embeddings ([items, dim], head mode) per dimension."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, images: ImageSet) -> Normalizer:
        """images: [items, channels, height, width] uint8, an image set; fitted on up to
        10,000 of them spread evenly (1,000 for file images, which are decoded for it)."""
        if is_lazy(images):
            sample = as_tensor(images[sample_positions(len(images), 1000)]).float()
        else:
            sample = images[:: max(1, len(images) // 10000)].float()
        if sample.ndim == 2:  # embeddings: per dimension, on their own scale
            return cls(tuple(sample.mean(dim=0).tolist()),
                       tuple(sample.std(dim=0).clamp_min(1e-3).tolist()))
        mean = sample.mean(dim=(0, 2, 3))
        std = sample.std(dim=(0, 2, 3)).clamp_min(1.0)
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    def __call__(self, batch: ImageSet, device: torch.device) -> torch.Tensor:
        """uint8 [batch, channels, h, w] -> normalised float32 on device, channels_last."""
        x = as_tensor(batch).to(device, non_blocking=True).float()
        if x.ndim == 2:  # embeddings [batch, dim]
            mean = torch.tensor(self.mean, device=device).view(1, -1)
            return (x - mean) / torch.tensor(self.std, device=device).view(1, -1)
        mean = torch.tensor(self.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, -1, 1, 1)
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


@dataclass
class Scores:
    """Model outputs over a set of items.

    probs: [items, classes]; embeddings: [items, dim] (penultimate layer) or None;
    mc_probs: [items, classes, passes] (MC dropout on the head) or None.
    """

    probs: np.ndarray
    embeddings: np.ndarray | None = None
    mc_probs: np.ndarray | None = None


class Predictor:
    """Runs one trained model over images in batches; the fast feature extractor is
    built on first use and reused for every later call (test, validation, pool)."""

    def __init__(self, model: SplitModel, norm: Normalizer, device: torch.device,
                 batch_size: int = 256) -> None:
        self.model = model.to(device).to(memory_format=torch.channels_last).eval()
        self.norm = norm
        self.device = device
        self.batch_size = batch_size
        self._features: Callable[[torch.Tensor], torch.Tensor] | None = None

    @torch.inference_mode()
    def __call__(self, images: ImageSet, embeddings: bool = False, mc_passes: int = 0,
                 progress: bool = False, desc: str = "score") -> Scores:
        """Scores for images ([items, channels, h, w] uint8).

        The convolutional features are computed once per batch; MC-dropout passes only
        re-sample the head, so BALD costs little more than one plain pass.
        """
        if self._features is None and len(images):
            example = self.norm(images[:self.batch_size], self.device)
            self._features = fast_features(self.model, example, self.device)
        with head_threads(images, self.device):
            return self._run(images, embeddings, mc_passes, progress, desc)

    def _run(self, images, embeddings, mc_passes, progress, desc) -> Scores:
        model, norm, device, batch_size = self.model, self.norm, self.device, self.batch_size
        features = self._features or self.model.features
        probs, embs, mcs = [], [], []
        bar = tqdm(total=len(images), desc=desc, unit="img", unit_scale=True, leave=False,
                   disable=not progress)
        for done, batch in enumerate(batches(images, slices(len(images), batch_size),
                                             pin=device.type == "cuda")):
            if done % TRIM_EVERY == TRIM_EVERY - 1:
                release_freed_memory()
            feats = features(norm(batch, device))
            probs.append(F.softmax(model.head(feats), dim=1).float().cpu())
            if embeddings:
                embs.append(feats.float().cpu())
            if mc_passes:
                mcs.append(_mc_probs(model, feats, mc_passes).cpu())
            bar.update(len(feats))
        bar.close()
        classes = model.head[-1].out_features
        return Scores(
            probs=torch.cat(probs).numpy() if probs else np.zeros((0, classes), np.float32),
            embeddings=torch.cat(embs).numpy() if embeddings and embs else None,
            mc_probs=torch.cat(mcs).numpy() if mc_passes and mcs else None,
        )

    def evaluate(self, images: ImageSet, labels: np.ndarray) -> Metrics:
        """Metrics of the argmax predictions against labels ([items] class indices)."""
        probs = self(images).probs
        return compute_metrics(labels, probs.argmax(axis=1), probs.shape[1])


@contextmanager
def head_threads(images: ImageSet, device: torch.device) -> Iterator[None]:
    """One torch thread while working on embeddings ([items, dim], head mode) on the CPU.

    A head's operations are tiny: one thread runs them fastest, and several threads
    waiting on each other on a busy machine made them 50x slower (13 s instead of 0.27 s
    for 465 training steps of a 128 -> 5 head on 2 loaded cores)."""
    if len(images.shape) != 2 or device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def release_freed_memory() -> None:
    """Return the heap's free memory to the system (glibc's malloc_trim; a no-op where
    the C library has none)."""
    global _trim
    if _trim is None:
        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)


_trim: Any = None


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
    if device.type != "cpu" or len(example) == 0 or example.ndim != 4:
        return fused  # (a head on embeddings has nothing to gain)
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


def predict(model: SplitModel, images: ImageSet, norm: Normalizer, device: torch.device,
            batch_size: int = 256, embeddings: bool = False, mc_passes: int = 0) -> Scores:
    """One-off scoring of images ([items, channels, h, w] uint8); see Predictor."""
    return Predictor(model, norm, device, batch_size)(images, embeddings, mc_passes)


def evaluate(model: SplitModel, images: torch.Tensor, labels: np.ndarray, norm: Normalizer,
             device: torch.device, batch_size: int = 256) -> Metrics:
    """One-off evaluation against labels ([items] class indices); see Predictor.evaluate."""
    return Predictor(model, norm, device, batch_size).evaluate(images, labels)
