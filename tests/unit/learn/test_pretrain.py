"""Pretraining and semi-supervised rounds on a pool of files (FileImages): the images are
decoded batch by batch, never the whole pool at once, so memory follows the batch (the
photo-collection benchmark's bound, benchmarks/photo_pool.py --steps pretrain)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from activelearn.config import ModelConfig, TrainingConfig, load_config
from activelearn.config.schema import SemiSupervisedConfig
from activelearn.data.imageset import FileImages
from activelearn.data.sources.base import Pool
from activelearn.jobs.kinds import pretrain as kind
from activelearn.learn.fit import fit
from activelearn.learn.inference import Normalizer
from activelearn.learn.models import build_model
from activelearn.learn.networks import InputSpec
from activelearn.learn.pretrain import Pretrainer, PretrainRecipe

CPU = torch.device("cpu")
ITEMS = 160


@pytest.fixture
def files(tmp_path) -> FileImages:
    """ITEMS small RGB PNGs, each a square of its own colour on noise."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(ITEMS):
        pixels = rng.integers(0, 80, (16, 16, 3), dtype=np.uint8)
        pixels[4:12, 4:12] = (i * 37 % 256, i * 91 % 256, 200)
        path = tmp_path / f"{i:04d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return FileImages(paths, (16, 16), 3)


@pytest.fixture
def decoded(monkeypatch) -> list[int]:
    """The size of every decode, in this process (DataLoader workers turned off)."""
    sizes: list[int] = []
    load = FileImages.load_positions

    def recording(self, positions):
        sizes.append(len(positions))
        return load(self, positions)

    monkeypatch.setattr(FileImages, "load_positions", recording)
    monkeypatch.setattr(FileImages, "loader_workers", lambda self: 0)
    return sizes


def test_the_pretrain_job_hands_over_a_lazy_set_decoded_batch_by_batch(
        files, decoded, project_file) -> None:
    cfg = load_config(project_file(model={"name": "small_cnn"},
                                   pretrain={"epochs": 1, "batch_size": 32}))
    pool = Pool([f"i{k}" for k in range(ITEMS)], files, np.zeros(ITEMS, np.int64),
                np.zeros(ITEMS, bool), [f"c{k}" for k in range(10)])
    positions = np.arange(0, ITEMS, 2, dtype=np.int64)  # the train items
    trainer = kind._trainer(cfg, pool, positions)
    assert isinstance(trainer.images, FileImages) and len(trainer.images) == ITEMS // 2
    decoded.clear()  # the normaliser's sample, before
    report = trainer.run_epoch()
    assert np.isfinite(report.loss) and decoded and max(decoded) <= 32


def test_pretraining_and_semi_supervised_rounds_decode_a_batch_at_a_time(
        files, decoded) -> None:
    norm = Normalizer.fit(files)
    decoded.clear()
    model = _model()
    Pretrainer(model, files, norm, PretrainRecipe(epochs=1, batch_size=32), 0,
               CPU).run_epoch()
    assert len(decoded) == ITEMS // 32 and max(decoded) == 32
    # a round: 24 labels, decoded once (they fit in memory); the 136 others unlabelled,
    # drawn ratio x batch (2 x 8) at a time, never all of them
    decoded.clear()
    semi = SemiSupervisedConfig(enabled=True, warmup=0.0, threshold=0.5)
    recipe = TrainingConfig(epochs=1, min_steps=12, batch_size=8, semi_supervised=semi)
    labels = np.arange(24) % 10
    fitted = fit(files[np.arange(24)], labels, 10, ModelConfig(name="small_cnn"), recipe,
                 norm, 0, CPU, unlabeled=files[np.arange(24, ITEMS)])
    assert fitted.result.steps == 12
    assert decoded[0] == 24 and set(decoded[1:]) == {16} and len(decoded) == 13


def _model():
    torch.manual_seed(0)
    return build_model("small_cnn", InputSpec(3, 16, 16, 10))
