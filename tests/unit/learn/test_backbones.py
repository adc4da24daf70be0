"""Pretrained backbones: a weights file you save yourself loads and embeds as the model it
came from; torchvision state dicts load into torchvision's architectures; a wrong digest,
a missing file, an unsafe file and an absent hub file are each one line."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import ModelConfig
from activelearn.errors import ConfigError
from activelearn.learn.backbones import load_backbone, provenance
from activelearn.learn.fit import build, input_spec
from activelearn.learn.networks import InputSpec
from support.weights import saved_cnn


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_weights_file_saved_by_activelearn_embeds_as_its_model(tmp_path: Path) -> None:
    path = tmp_path / "pre.pt"
    model = saved_cnn(path)
    cfg = ModelConfig(name="small_cnn", weights=str(path), weights_sha256=sha256(path),
                      train="head")
    backbone = load_backbone(cfg, 1, (28, 28))
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(backbone.features.eval()(x), model.features(x), atol=1e-6)
    assert (backbone.dim, backbone.mean, backbone.std) == (128, (70.0,), (90.0,))
    assert provenance(cfg)["weights_sha256"] == sha256(path)[:16]


def test_images_of_another_size_are_resized_for_the_backbone(tmp_path: Path) -> None:
    path = tmp_path / "pre.pt"
    saved_cnn(path)
    backbone = load_backbone(ModelConfig(weights=str(path), train="head"), 1, (56, 40))
    with torch.no_grad():
        assert backbone.features.eval()(torch.randn(2, 1, 56, 40)).shape == (2, 128)


def test_finetune_starts_from_the_weights_with_a_new_head(tmp_path: Path) -> None:
    path = tmp_path / "pre.pt"
    model = saved_cnn(path, classes=5)
    cfg = ModelConfig(weights=str(path), train="finetune")
    net = build(cfg, InputSpec(1, 28, 28, 7)).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(net.features(x), model.features(x), atol=1e-6)
        assert net(x).shape == (3, 7)
    # fine-tuning a copy leaves the loaded backbone as it was
    next(net.parameters()).data.add_(1.0)
    again = build(cfg, InputSpec(1, 28, 28, 7)).eval()
    with torch.no_grad():
        assert torch.allclose(again.features(x), model.features(x), atol=1e-6)


def test_head_mode_builds_a_head_for_embeddings() -> None:
    cfg = ModelConfig(weights="x.pt", train="head", head_hidden=32)
    net = build(cfg, input_spec(torch.zeros(10, 64, dtype=torch.float16), 3))
    assert net(torch.randn(5, 64)).shape == (5, 3)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in net.modules())


def test_a_torchvision_state_dict_loads_into_torchvision_resnet18(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), path)
    backbone = load_backbone(ModelConfig(name="resnet18", weights=str(path), train="head"),
                             3, (64, 64))
    assert backbone.dim == 512 and backbone.size == (64, 64)
    x = torch.randn(2, 3, 64, 64)
    net.fc = torch.nn.Identity()
    with torch.no_grad():
        assert torch.allclose(backbone.features.eval()(x), net(x), atol=1e-5)
    # grey images: the first convolution sums its RGB filters, so a grey image embeds as
    # its three-channel copy does
    grey = load_backbone(ModelConfig(name="resnet18", weights=str(path), train="head"),
                         1, (64, 64))
    g = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(grey.features.eval()(g), net(g.expand(-1, 3, -1, -1)),
                              atol=1e-4)


@pytest.mark.parametrize("problem", ["sha256", "missing", "unsafe", "not-weights",
                                     "wrong-architecture"])
def test_bad_weights_are_one_config_error(tmp_path: Path, problem: str) -> None:
    path = tmp_path / "pre.pt"
    saved_cnn(path)
    cfg = ModelConfig(weights=str(path), train="head")
    expected = str(path)
    if problem == "sha256":
        cfg = dataclasses.replace(cfg, weights_sha256="0" * 64)
        expected = "sha256"
    elif problem == "missing":
        cfg = dataclasses.replace(cfg, weights=str(tmp_path / "absent.pt"))
        expected = "absent.pt is not a file"
    elif problem == "unsafe":
        torch.save({"x": Exploit()}, path)
        expected = "not a weights file torch can load safely"
    elif problem == "not-weights":
        path.write_bytes(b"hello")
    elif problem == "wrong-architecture":
        cfg = dataclasses.replace(cfg, name="lenet")
        expected = "does not fit model.name lenet"
    with pytest.raises(ConfigError) as caught:
        load_backbone(cfg, 1, (28, 28))
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert not (tmp_path / "ran").exists()


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch ran",))


def test_a_hub_weights_name_missing_from_the_cache_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cfg = ModelConfig(name="resnet18", weights="ResNet18_Weights.IMAGENET1K_V1", train="head")
    with pytest.raises(ConfigError) as caught:
        load_backbone(cfg, 3, (224, 224))
    message = str(caught.value)
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert "download https://" in message
    with pytest.raises(ConfigError, match="not a torchvision weights name"):
        load_backbone(dataclasses.replace(cfg, weights="IMAGENET9K"), 3, (224, 224))


def test_a_wrong_digest_is_exit_2_on_the_command_line(project_file, tmp_path) -> None:
    path = tmp_path / "pre.pt"
    saved_cnn(path)
    config = project_file(model={"name": "small_cnn", "weights": str(path),
                                 "weights_sha256": "ab" * 32, "train": "head"})
    result = CliRunner().invoke(main, ["simulate", "--config", str(config), "--no-progress"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()  # before any work: the only line
    assert len(lines) == 1 and "model.weights_sha256" in lines[0] and str(path) in lines[0]


def test_head_mode_without_weights_is_exit_2(project_file) -> None:
    config = project_file(model={"name": "small_cnn", "train": "head"})
    result = CliRunner().invoke(main, ["simulate", "--config", str(config)])
    assert result.exit_code == 2 and "set model.weights" in result.output


def test_bfloat16_embeddings_are_close_and_cached_apart(tmp_path: Path) -> None:
    from activelearn.learn.embedding import Embedder

    path = tmp_path / "pre.pt"
    saved_cnn(path)
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    rows = np.arange(64)
    tags = rows + (1 << 60)
    found = {}
    for precision in ("float32", "bfloat16"):
        cfg = ModelConfig(weights=str(path), train="head", embed_precision=precision)
        embedder = Embedder.for_pool(cfg, images, tmp_path / "cache", {"source": "t"})
        assert embedder.embed_missing(images, rows, tags, torch.device("cpu")) == 64
        found[precision] = (embedder.cache.key, embedder.features(rows, tags).float())
    (key32, exact), (key16, fast) = found["float32"], found["bfloat16"]
    assert key32 != key16 and not torch.equal(fast, exact)  # computed in bfloat16
    assert (fast - exact).abs().max() <= 0.02 * exact.abs().max()
