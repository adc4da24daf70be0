"""Pretrained backbones: a torchvision architecture (or a built-in CNN) with weights from
the torch hub cache or a file, ready to embed images or to be fine-tuned.

`model.weights` is either a torchvision weights name (ResNet18_Weights.IMAGENET1K_V1,
or IMAGENET1K_V1 / DEFAULT for the configured architecture), read from the torch hub
cache and never downloaded, or a file: a plain state dict (torchvision's format) or a
checkpoint activelearn saved. Files are loaded with torch.load(weights_only=True) and
checked against `model.weights_sha256` when it is set. The input normalisation and size
come from the weights (torchvision's metadata; an activelearn checkpoint's normaliser and
input size); a plain state dict is taken to be ImageNet's (its mean and std).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from activelearn.config import ModelConfig
from activelearn.errors import ConfigError
from activelearn.learn.checkpoints import read_weights
from activelearn.learn.models import build_model
from activelearn.learn.networks import InputSpec, SplitModel

# torchvision architectures a backbone may name (the built-in CNNs are in networks.py).
_IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
TORCHVISION = ("resnet18", "resnet34", "resnet50", "mobilenet_v3_large",
               "efficientnet_b0", "convnext_tiny", "vit_b_16")


@dataclass
class Backbone:
    """A feature extractor and what it expects.

    features: images [batch, channels, h, w] normalised -> embeddings [batch, dim]
    mean, std: per-channel normalisation in 0..255 units
    size: [h, w] the weights were made for (images of another size are resized to it
        inside `features`), None when unknown
    digest: the first 16 hex digits of the weights file's sha256
    """

    name: str
    weights: str
    features: nn.Module
    dim: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    size: tuple[int, int] | None
    digest: str

    def describe(self) -> dict[str, str]:
        """What produced a model, for checkpoints, records and the report."""
        return {"backbone": self.name, "weights": self.weights, "weights_sha256": self.digest}

    def trainable(self) -> nn.Module:
        """A copy of the features to fine-tune (this one stays as loaded)."""
        return copy.deepcopy(self.features)


class Resized(nn.Module):
    """Resizes a batch to the size a backbone was made for, then runs it."""

    def __init__(self, size: tuple[int, int], body: nn.Module) -> None:
        super().__init__()
        self.size = tuple(size)
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=self.size, mode="bilinear", antialias=True,
                          align_corners=False)
        return self.body(x)


def _sized(size: tuple[int, int], body: nn.Module, image_size: tuple[int, int]) -> nn.Module:
    """body, behind a Resized when the images are not of its size."""
    return Resized(size, body) if tuple(size) != tuple(image_size) else body


def load_backbone(model: ModelConfig, channels: int, image_size: tuple[int, int]) -> Backbone:
    """The configured backbone for images of `channels` and [h, w] `image_size`, with its
    weights (the last one is kept in this process: every round and job reuses it).

    ConfigError (exit 2, one line): unknown weights, a missing file (naming where to
    place it), a wrong sha256, weights that do not fit the architecture."""
    return _kept_backbone(model, channels, (int(image_size[0]), int(image_size[1])))


@functools.lru_cache(maxsize=1)
def _kept_backbone(model: ModelConfig, channels: int, image_size: tuple[int, int]) -> Backbone:
    return _load(model, channels, image_size)


def check_weights(model: ModelConfig) -> tuple[Path, str]:
    """The weights file model.weights names and its sha256, checked against
    model.weights_sha256: what commands call before any work, so a missing or wrong file
    is one ConfigError line before anything runs."""
    path, _ = _weights_file(model)
    return path, _checked_digest(model, path)


def _checked_digest(model: ModelConfig, path: Path) -> str:
    digest = file_sha256(path)
    if model.weights_sha256 and digest != model.weights_sha256.lower():
        raise ConfigError(f"model.weights_sha256: {path} has sha256 {digest}, the config "
                          f"expects {model.weights_sha256.lower()} (a different or damaged "
                          "file: replace it, or correct the digest)")
    return digest


def _load(model: ModelConfig, channels: int, image_size: tuple[int, int]) -> Backbone:
    path, meta = _weights_file(model)
    digest = _checked_digest(model, path)
    state = read_weights(path)
    if "norm" in state and "meta" in state:  # a checkpoint activelearn saved
        return _from_checkpoint(model, state, path, digest, channels, image_size)
    if model.name not in TORCHVISION:
        raise ConfigError(f"model.weights: {path} is a plain state dict, which needs a "
                          f"torchvision architecture as model.name ({', '.join(TORCHVISION)});"
                          f" {model.name} loads only checkpoints saved by activelearn")
    net = _torchvision(model.name, state.get("state_dict", state), path)
    dim = _cut_classifier(net)
    _adapt_channels(net, channels)
    size = meta.get("size") or image_size
    # plain state dicts of torchvision architectures are ImageNet's: its normalisation
    mean = tuple(meta.get("mean", _IMAGENET_MEAN))
    std = tuple(meta.get("std", _IMAGENET_STD))
    if channels == 1:  # grey images: the channels' average
        mean, std = (sum(mean) / 3,), (sum(std) / 3,)
    features = _sized(size, net, image_size)
    return Backbone(model.name, model.weights, features, dim, mean, std, tuple(size),
                    digest[:16])


def _from_checkpoint(model: ModelConfig, ckpt: dict, path: Path, digest: str,
                     channels: int, image_size: tuple[int, int]) -> Backbone:
    weights = ckpt["model"]
    head = weights.get("head.1.weight")
    if head is None:
        raise ConfigError(f"model.weights: {path} is an activelearn checkpoint without a "
                          "classifier head; save a whole model")
    # checkpoints before the input size was recorded: trained at the pool's image size
    recorded = ckpt["meta"].get("input_size") or image_size
    size = (int(recorded[0]), int(recorded[1]))
    spec = InputSpec(channels, int(size[0]), int(size[1]), int(head.shape[0]))
    try:
        net = build_model(model.name, spec, model.dropout)
        net.load_state_dict(weights)
    except (RuntimeError, ValueError) as exc:
        why = " ".join(str(exc).split())[:160]
        raise ConfigError(f"model.weights: {path} does not fit model.name {model.name} "
                          f"with {channels} channel(s) ({why})") from None
    mean, std = ckpt["norm"]
    return Backbone(model.name, model.weights, _sized(size, net.features, image_size),
                    net.embedding_dim, tuple(mean), tuple(std), size, digest[:16])


def provenance(model: ModelConfig) -> dict[str, str]:
    """What produced a model, for its checkpoint, records and the report: the
    architecture, the training mode, the weights and the first 16 hex digits of their
    file's sha256 ("" without weights)."""
    digest = file_sha256(_weights_file(model)[0])[:16] if model.weights else ""
    return {"model": model.name, "mode": model.train, "weights": model.weights,
            "weights_sha256": digest}


def _weights_file(model: ModelConfig) -> tuple[Path, dict[str, Any]]:
    """The file model.weights names, and what torchvision's metadata says of its input."""
    if model.pool_weights:  # resolved by the project once they are made
        raise ConfigError("model.weights: pool: this project's pretrained weights are not "
                          "made yet (activelearn pretrain, or the first cycle, makes them)")
    path = Path(model.weights).expanduser()
    if not model.hub_weights:
        if not path.is_file():
            raise ConfigError(f"model.weights: {path} is not a file (a weights file, or a "
                              "torchvision weights name such as ResNet18_Weights.DEFAULT)")
        return path, {}
    return _hub_file(model)


def _hub_file(model: ModelConfig) -> tuple[Path, dict[str, Any]]:
    import torchvision

    name = model.weights
    try:
        if "." not in name:
            enum = torchvision.models.get_model_weights(model.name)
            weights = enum[name] if name != "DEFAULT" else enum.DEFAULT
        else:
            weights = torchvision.models.get_weight(name)
    except (KeyError, ValueError, AttributeError):
        raise ConfigError(f"model.weights: {name} is not a torchvision weights name for "
                          f"{model.name} (e.g. DEFAULT or IMAGENET1K_V1), nor a file") from None
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not path.is_file():
        raise ConfigError(f"model.weights: {name} is not in the torch hub cache: download "
                          f"{weights.url} and place it at {path}")
    prefix = re.search(r"-([0-9a-f]{8,})\.", path.name)
    if prefix and not file_sha256(path).startswith(prefix.group(1)):
        raise ConfigError(f"model.weights: {path} does not match its published sha256 "
                          f"(starting {prefix.group(1)}): download it again")
    transform = weights.transforms()
    meta = {"mean": tuple(255 * m for m in transform.mean),
            "std": tuple(255 * s for s in transform.std),
            "size": (transform.crop_size[0],) * 2}
    return path, meta


def _torchvision(name: str, state: dict, path: Path) -> nn.Module:
    import torchvision

    net = torchvision.models.get_model(name, weights=None)
    try:
        net.load_state_dict(state)
    except (RuntimeError, ValueError) as exc:
        why = " ".join(str(exc).split())[:160]
        raise ConfigError(f"model.weights: {path} does not fit torchvision's {name} "
                          f"({why})") from None
    return net


def _cut_classifier(net: nn.Module) -> int:
    """Replace the network's last linear layer (its classifier) by the identity; returns
    the embedding size (that layer's input size)."""
    parent, attr, last = None, "", None
    for module in net.modules():
        for child_name, child in module.named_children():
            if isinstance(child, nn.Linear):
                parent, attr, last = module, child_name, child
    if last is None or parent is None:
        raise ConfigError("model.name: this architecture has no linear classifier to cut")
    setattr(parent, attr, nn.Identity())
    return int(last.in_features)


def _adapt_channels(net: nn.Module, channels: int) -> None:
    """Make the first convolution take `channels` inputs: grey images use the sum of the
    RGB filters (the same response to a grey image as RGB weights give)."""
    for module in net.modules():
        for child_name, child in module.named_children():
            if isinstance(child, nn.Conv2d):
                if child.in_channels == channels:
                    return
                if channels != 1:
                    raise ConfigError(f"model.weights: the backbone takes {child.in_channels}"
                                      f" channels, the images have {channels}")
                conv = nn.Conv2d(1, child.out_channels, cast(Any, child.kernel_size),
                                 cast(Any, child.stride), cast(Any, child.padding),
                                 cast(Any, child.dilation), child.groups,
                                 child.bias is not None)
                with torch.no_grad():
                    conv.weight.copy_(child.weight.sum(dim=1, keepdim=True))
                    if child.bias is not None and conv.bias is not None:
                        conv.bias.copy_(child.bias)
                setattr(module, child_name, conv)
                return


def file_sha256(path: Path) -> str:
    """The sha256 of a file, hex (cached while its size and mtime stay the same)."""
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    """The file's sha256; size and mtime_ns only key the cache (a changed file is read
    again)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torchvision_model(name: str, spec: InputSpec, dropout: float) -> SplitModel:
    """A torchvision architecture with random weights as a SplitModel (model.train:
    scratch with a torchvision name)."""
    import torchvision

    net = torchvision.models.get_model(name, weights=None)
    dim = _cut_classifier(net)
    _adapt_channels(net, spec.channels)
    return SplitModel(net, dim, spec.classes, dropout)


def head_model(dim: int, classes: int, dropout: float, hidden: int) -> SplitModel:
    """The head trained on cached embeddings ([batch, dim]): linear, or one hidden layer."""
    features: nn.Module = nn.Identity() if not hidden else \
        nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
    return SplitModel(features, hidden or dim, classes, dropout)


def _builder(name: str):
    def build(spec: InputSpec, dropout: float) -> SplitModel:
        return torchvision_model(name, spec, dropout)
    build.__doc__ = f"torchvision's {name} with random weights, as a SplitModel."
    return build


# model.name entries (registered lazily in models.py); resnet18 is the built-in variant
resnet34, resnet50, mobilenet_v3_large, efficientnet_b0, convnext_tiny, vit_b_16 = (
    _builder(n) for n in TORCHVISION[1:])
