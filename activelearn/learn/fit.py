"""The one way a model is trained: `fit`. simulate, the train job and the out-of-fold
job of the label-error review all call it, so a recipe change reaches all three."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from activelearn.config import ModelConfig, TrainingConfig
from activelearn.data.imageset import ImageSet
from activelearn.learn.inference import Normalizer, Predictor
from activelearn.learn.models import build_model
from activelearn.learn.networks import InputSpec, SplitModel
from activelearn.learn.training import TrainResult, train_model


@dataclass
class Fitted:
    """A trained model, how its training went, and a predictor running it."""

    model: SplitModel
    result: TrainResult
    predictor: Predictor


def input_spec(images: ImageSet, classes: int) -> InputSpec:
    """What a model for these images sees. images: [items, channels, height, width]."""
    _, channels, height, width = images.shape
    return InputSpec(channels, height, width, classes)


def fit(images: ImageSet, labels: np.ndarray, classes: int, model: ModelConfig,
        training: TrainingConfig, norm: Normalizer, seed: int, device: torch.device,
        score_batch_size: int = 256, progress: bool = False) -> Fitted:
    """A fresh model of the configured kind trained on images ([items, channels, h, w]
    uint8) with labels ([items] class indices out of `classes`), seeded."""
    torch.manual_seed(seed)
    net = build_model(model.name, input_spec(images, classes), model.dropout)
    result = train_model(net, images, labels, training, norm, seed, device, progress)
    return Fitted(net, result, Predictor(net, norm, device, score_batch_size))
