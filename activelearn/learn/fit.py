"""The one way a model is trained: `fit`. simulate, the train job and the out-of-fold
job of the label-error review all call it, so a recipe change reaches all three."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from activelearn.config import ModelConfig, TrainingConfig
from activelearn.data.imageset import ImageSet
from activelearn.learn.backbones import head_model, load_backbone
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
    """What a model for these images sees. images: [items, channels, height, width], or
    embeddings [items, dim] (head mode: dim channels of 1x1)."""
    if len(images.shape) == 2:
        return InputSpec(images.shape[1], 1, 1, classes)
    _, channels, height, width = images.shape
    return InputSpec(channels, height, width, classes)


def build(model: ModelConfig, spec: InputSpec) -> SplitModel:
    """A fresh model of the configured kind (model.train) for inputs of spec:
    scratch: model.name with random weights; finetune: the pretrained backbone (a copy)
    and a new head; head: a head for embeddings of spec.channels dimensions."""
    if model.train == "head":
        return head_model(spec.channels, spec.classes, model.dropout, model.head_hidden)
    if model.train == "finetune":
        backbone = load_backbone(model, spec.channels, (spec.height, spec.width))
        return SplitModel(backbone.trainable(), backbone.dim, spec.classes, model.dropout)
    return build_model(model.name, spec, model.dropout)


def fit(images: ImageSet, labels: np.ndarray, classes: int, model: ModelConfig,
        training: TrainingConfig, norm: Normalizer, seed: int, device: torch.device,
        score_batch_size: int = 256, progress: bool = False,
        unlabeled: ImageSet | None = None) -> Fitted:
    """A fresh model of the configured kind (see build) trained on images ([items,
    channels, h, w] uint8; head mode: embeddings [items, dim]) with labels ([items]
    class indices out of `classes`), seeded. unlabeled: the unlabelled train-pool items
    (never holdout, validation or test), for training.semi_supervised."""
    torch.manual_seed(seed)
    net = build(model, input_spec(images, classes))
    result = train_model(net, images, labels, training, norm, seed, device, progress,
                         unlabeled)
    return Fitted(net, result, Predictor(net, norm, device, score_batch_size))


def normalizer(model: ModelConfig, images: ImageSet) -> Normalizer:
    """The input normalisation a model of this kind uses: the pretrained backbone's own
    when fine-tuning, else fitted on images (the pool's images, or embeddings)."""
    if model.train == "finetune":
        _, channels, height, width = images.shape
        backbone = load_backbone(model, channels, (height, width))
        return Normalizer(backbone.mean, backbone.std)
    return Normalizer.fit(images)
