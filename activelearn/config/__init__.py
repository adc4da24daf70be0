"""The project file: one YAML document validated into typed, frozen dataclasses."""

from activelearn.config.schema import (
    DEFAULT_CONFIG,
    FASHION_MNIST_CLASSES,
    CleaningConfig,
    Config,
    DataConfig,
    JobsConfig,
    LabelStudioConfig,
    LoopConfig,
    ModelConfig,
    ProjectConfig,
    QualityConfig,
    SplitsConfig,
    StrategyConfig,
    TrainingConfig,
    config_from_dict,
    load_config,
    with_overrides,
)

__all__ = [
    "DEFAULT_CONFIG", "FASHION_MNIST_CLASSES", "CleaningConfig", "Config", "DataConfig",
    "JobsConfig", "LabelStudioConfig", "LoopConfig", "ModelConfig", "ProjectConfig",
    "QualityConfig", "SplitsConfig", "StrategyConfig", "TrainingConfig", "config_from_dict",
    "load_config", "with_overrides",
]
