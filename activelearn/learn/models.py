"""Models by name: the registry of model builders (model.name) and build_model.

A builder is a function (InputSpec, dropout) -> SplitModel (see networks.py, where the
built-in lenet, small_cnn and resnet18 are). The built-ins are registered lazily, so
listing the names does not import torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from activelearn.config.registry import Registry

if TYPE_CHECKING:  # the types only: torch is imported when a model is built
    from activelearn.learn.networks import InputSpec, SplitModel

ModelBuilder = Callable[["InputSpec", float], "SplitModel"]  # (input spec, dropout) -> model
_MODELS: Registry[ModelBuilder] = Registry("model")


def register_model(name: str, builder: ModelBuilder) -> ModelBuilder:
    """Make builder available as model.name: name (replaces a model of that name)."""
    return _MODELS.register(name, builder)


def get_model(name: str) -> ModelBuilder:
    """The builder registered as name; an unknown name is a ConfigError listing the others."""
    return _MODELS.get(name)


def available_models() -> list[str]:
    """The registered model names, sorted."""
    return _MODELS.available()


for _name in ("lenet", "small_cnn", "resnet18"):
    _MODELS.register_lazy(_name, f"activelearn.learn.networks:{_name}")
for _name in ("resnet34", "resnet50", "mobilenet_v3_large", "efficientnet_b0",
              "convnext_tiny", "vit_b_16"):  # torchvision's, see backbones.py
    _MODELS.register_lazy(_name, f"activelearn.learn.backbones:{_name}")


def build_model(name: str, spec: InputSpec, dropout: float = 0.25) -> SplitModel:
    """Build a model by registered name; an unknown name lists the available ones."""
    return get_model(name)(spec, dropout)
