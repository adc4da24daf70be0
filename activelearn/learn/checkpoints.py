"""Where models are kept and run: checkpoint files (weights, normaliser, metadata) by
model version, and the device a model trains and predicts on."""

from __future__ import annotations

from pathlib import Path

import torch

from activelearn.files import write_atomically
from activelearn.learn.inference import Normalizer
from activelearn.learn.networks import SplitModel


def resolve_device(name: str) -> torch.device:
    """'auto' -> the first CUDA device when one is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def checkpoint_path(work_dir: Path, version: str) -> Path:
    """The checkpoint of a model version in a project's work directory (its metrics are
    next to it, with the suffix .json)."""
    return Path(work_dir) / "models" / f"{version}.pt"


def save_checkpoint(path: Path, model: SplitModel, norm: Normalizer, meta: dict) -> None:
    """Write model weights, normaliser and metadata (model version, round, config) atomically."""
    state = {"model": model.state_dict(), "norm": [norm.mean, norm.std], "meta": meta}
    write_atomically(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, model: SplitModel) -> tuple[Normalizer, dict]:
    """Load weights into model; returns the normaliser and metadata saved with them."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(ckpt["model"])
    mean, std = ckpt["norm"]
    return Normalizer(tuple(mean), tuple(std)), ckpt["meta"]
