"""The networks: CNN builders (registered by name in models.py) and their inference form.

Every model splits into ``features`` (input -> penultimate embedding, used by the
core-set and BADGE strategies) and ``head`` (dropout + linear classifier, the part
BALD samples with MC dropout), so ``model(x) == model.head(model.features(x))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from activelearn.errors import ConfigError


@dataclass(frozen=True)
class InputSpec:
    """What the model sees: channels and [height, width] of each image, number of classes."""

    channels: int
    height: int
    width: int
    classes: int


class SplitModel(nn.Module):
    """A feature extractor followed by a dropout + linear head."""

    def __init__(self, features: nn.Module, embedding_dim: int, classes: int, dropout: float):
        super().__init__()
        self.features = features
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embedding_dim, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, channels, height, width] -> logits [batch, classes]."""
        return self.head(self.features(x))


def _flat_size(body: nn.Module, spec: InputSpec) -> int:
    with torch.no_grad():
        out = body(torch.zeros(1, spec.channels, spec.height, spec.width))
    return int(out.numel())


def _conv_body(spec: InputSpec, layers: list[nn.Module], name: str) -> nn.Sequential:
    body = nn.Sequential(*layers, nn.Flatten())
    try:
        _flat_size(body, spec)
    except RuntimeError:
        raise ConfigError(
            f"model.name: {name} needs larger images than {spec.height}x{spec.width}"
        ) from None
    return body


def lenet(spec: InputSpec, dropout: float) -> SplitModel:
    """The seed article's CNN: conv 6 and 16 channels (5x5), 2x2 max-pool, FC 120-84-classes."""
    body = _conv_body(spec, [
        nn.Conv2d(spec.channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    ], "lenet")
    features = nn.Sequential(
        body, nn.Linear(_flat_size(body, spec), 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU()
    )
    return SplitModel(features, 84, spec.classes, dropout)


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    # max-pool before ReLU: the same function (ReLU is monotonic), ReLU on 4x fewer values
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.MaxPool2d(2), nn.ReLU()]


def small_cnn(spec: InputSpec, dropout: float) -> SplitModel:
    """The default: three 3x3 conv + batch-norm + max-pool stages (16, 32, 64 channels), FC 128.

    Narrow early layers keep it fast on a CPU (most of the cost is the first two
    stages at full resolution); batch norm lets it train quickly from few labels.
    """
    body = _conv_body(spec, _conv_bn(spec.channels, 16) + _conv_bn(16, 32) + _conv_bn(32, 64),
                      "small_cnn")
    features = nn.Sequential(body, nn.Linear(_flat_size(body, spec), 128), nn.ReLU())
    return SplitModel(features, 128, spec.classes, dropout)


def resnet18(spec: InputSpec, dropout: float) -> SplitModel:
    """torchvision ResNet-18 adapted to small images: 3x3 stem, stride 1, no stem max-pool."""
    import torchvision  # seconds to import: only this builder needs it

    net = torchvision.models.resnet18(weights=None)
    net.conv1 = nn.Conv2d(spec.channels, 64, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return SplitModel(net, 512, spec.classes, dropout)


def fuse_for_inference(module: nn.Module) -> nn.Module:
    """An eval-mode copy with conv+batch-norm folded and ReLU moved after max-pool.

    Both rewrites give the same outputs (max-pool commutes with ReLU) and remove
    two of the four full-resolution passes over the activations.
    """
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(module).eval()
    for parent in list(fused.modules()):
        if not isinstance(parent, nn.Sequential):
            continue
        mods, i = list(parent), 0
        out: list[nn.Module] = []
        while i < len(mods):
            here, after = mods[i], mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(here, nn.Conv2d) and isinstance(after, nn.BatchNorm2d):
                out.append(fuse_conv_bn_eval(here, after))
            elif isinstance(here, nn.ReLU) and isinstance(after, nn.MaxPool2d):
                out.extend([after, here])
            else:
                out.append(here)
                i += 1
                continue
            i += 2
        for name in list(parent._modules):
            del parent._modules[name]
        for j, m in enumerate(out):
            parent.add_module(str(j), m)
    return fused
