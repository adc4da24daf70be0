"""Where models are kept and run: a model version's checkpoint (weights, normaliser,
metadata) and its metrics next to it, and the device a model trains and predicts on.

Checkpoints are loaded with torch.load(weights_only=True): a file in the models folder
can hold tensors and plain values only, never code to run.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import torch

from activelearn.data.artifacts import ArtifactStore
from activelearn.errors import ConfigError, StateError
from activelearn.files import write_atomically
from activelearn.learn.inference import Normalizer
from activelearn.learn.networks import SplitModel

# What torch.load raises for a file that is not a checkpoint it may load.
_LOAD_ERRORS = (OSError, RuntimeError, EOFError, ValueError, TypeError, KeyError,
                pickle.UnpicklingError, zipfile.BadZipFile)


def resolve_device(name: str) -> torch.device:
    """'auto' -> the first CUDA device when one is present, else the CPU. A CUDA device
    this machine does not have is a ConfigError (exit 2), not a crash in training."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            have = f"{count} CUDA device(s)" if count else "no CUDA device"
            raise ConfigError(f"training.device (or the worker's device): {name}, but this "
                              f"machine has {have}; use auto or cpu")
    return device


def model_version(project: str, round_: int) -> str:
    """The version of the model a project's round trains, e.g. "fashion-mnist-r3"."""
    return f"{project}-r{round_}"


def checkpoint_name(version: str) -> str:
    """The artifact name of a model version's checkpoint, e.g. "models/fm-r3.pt"."""
    return f"models/{version}.pt"


def metrics_name(version: str) -> str:
    """The artifact name of the train job's result (metrics), next to the checkpoint."""
    return f"models/{version}.json"


def checkpoint_path(work_dir: Path, version: str) -> Path:
    """The checkpoint of a model version in a local artifact store (by default the
    project's work directory)."""
    return Path(work_dir) / checkpoint_name(version)


def metrics_path(work_dir: Path, version: str) -> Path:
    """The metrics of a model version in a local artifact store, next to its checkpoint."""
    return Path(work_dir) / metrics_name(version)


def save_checkpoint(path: Path, model: SplitModel, norm: Normalizer, meta: dict,
                    exclusive: bool = False) -> None:
    """Write model weights, normaliser and metadata (model version, round, config)
    atomically; exclusive: never replace an existing file (FileExistsError)."""
    state = {"model": model.state_dict(), "norm": [list(norm.mean), list(norm.std)],
             "meta": meta}
    write_atomically(path, lambda tmp: torch.save(state, tmp), exclusive=exclusive)


def _read(path: Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise StateError(f"{path}: the checkpoint is missing") from None
    except _LOAD_ERRORS as exc:
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise StateError(f"{path}: not a checkpoint activelearn can load ({why})") from None
    if not isinstance(ckpt, dict) or not {"model", "norm", "meta"} <= set(ckpt):
        raise StateError(f"{path}: not an activelearn checkpoint (no model, norm and meta)")
    return ckpt


def read_weights(path: Path) -> dict:
    """A pretrained weights file (model.weights): a state dict or an activelearn
    checkpoint, loaded with weights_only=True. ConfigError (one line) when unreadable."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as exc:
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise ConfigError(f"model.weights: {path} is not a weights file torch can load "
                          f"safely ({why})") from None
    if not isinstance(state, dict):
        raise ConfigError(f"model.weights: {path} holds a {type(state).__name__}, not a "
                          "state dict")
    return state


def load_checkpoint(path: Path, model: SplitModel) -> tuple[Normalizer, dict]:
    """Load weights into model; returns the normaliser and metadata saved with them.
    StateError (one line) for a missing, foreign or unreadable file."""
    ckpt = _read(path)
    try:
        model.load_state_dict(ckpt["model"])
        mean, std = ckpt["norm"]
    except (RuntimeError, ValueError, TypeError) as exc:
        why = " ".join(str(exc).split())[:160]
        raise StateError(f"{path}: the checkpoint does not fit the configured model "
                         f"({why})") from None
    return Normalizer(tuple(mean), tuple(std)), ckpt["meta"]


def model_problem(store: ArtifactStore, version: str) -> str | None:
    """Why a model version's files in the artifact store cannot be used (a missing or
    unreadable checkpoint or metrics file), or None when they can."""
    shown = store.path(metrics_name(version)) if store.local \
        else f"{store.url}/{metrics_name(version)}"
    try:
        _read(store.fetch(checkpoint_name(version)))
    except FileNotFoundError as exc:
        return f"{exc.filename}: the checkpoint is missing"
    except StateError as exc:
        return str(exc)
    try:
        json.loads(store.read_bytes(metrics_name(version)))["metrics"]
    except FileNotFoundError:
        return f"{shown}: the metrics file is missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{shown}: unreadable ({type(exc).__name__})"
    return None
