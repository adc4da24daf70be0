"""The project file: one YAML document validated into typed, frozen dataclasses.

    cfg = load_config("configs/fashion_mnist.yaml")

schema.py: the sections and their keys (services.py, serve.py, quality.py,
stop_when.py, strategy.py, pretrain.py and semi_supervised.py hold some of them);
build.py: the generic YAML -> dataclass builder; checks.py: ranges (ranges.py: Range),
combinations and names; load.py: reading and overriding; registry.py: the registries of
named pluggables; reference.py: the configuration reference page, generated from the
sections' docstrings.
"""

from activelearn.config.load import (
    DEFAULT_CONFIG,
    config_content,
    config_from_dict,
    load_config,
    with_overrides,
)
from activelearn.config.pretrain import PretrainConfig
from activelearn.config.quality import CleaningConfig, QualityConfig
from activelearn.config.registry import Registry
from activelearn.config.schema import (
    FASHION_MNIST_CLASSES,
    Config,
    DataConfig,
    JobsConfig,
    LabelStudioConfig,
    LoopConfig,
    ModelConfig,
    ProjectConfig,
    SplitsConfig,
    StrategyConfig,
    TrainingConfig,
)
from activelearn.config.semi_supervised import SemiSupervisedConfig

__all__ = [
    "DEFAULT_CONFIG", "FASHION_MNIST_CLASSES", "CleaningConfig", "Config", "DataConfig",
    "JobsConfig", "LabelStudioConfig", "LoopConfig", "ModelConfig", "PretrainConfig",
    "ProjectConfig", "QualityConfig", "Registry", "SemiSupervisedConfig", "SplitsConfig",
    "StrategyConfig", "TrainingConfig",
    "config_content", "config_from_dict", "load_config", "with_overrides",
]
