"""CNN builders: output shapes, the features/head split, the seed article's LeNet, layouts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from activelearn.errors import ConfigError, UnknownNameError
from activelearn.learn.models import available_models, build_model
from activelearn.learn.networks import InputSpec

NAMES = ["lenet", "small_cnn", "resnet18"]
SPECS = {
    "gray28": InputSpec(channels=1, height=28, width=28, classes=10),
    "rgb32": InputSpec(channels=3, height=32, width=32, classes=7),
}
EMBEDDING_DIM = {"lenet": 84, "small_cnn": 128, "resnet18": 512}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """These machines are shared; small forward passes need no more than one core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def images(spec: InputSpec, batch: int = 3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec.channels, spec.height, spec.width, generator=gen)


def built(name: str, spec: InputSpec) -> nn.Module:
    torch.manual_seed(0)
    return build_model(name, spec).eval()


# torchvision's architectures (learn/backbones.py): embedding size, the size they take
TORCHVISION = {"resnet34": (512, 64), "resnet50": (2048, 64), "mobilenet_v3_large": (1280, 64),
               "efficientnet_b0": (1280, 64), "convnext_tiny": (768, 64),
               "vit_b_16": (768, 224)}


def test_every_registered_model_is_tested() -> None:
    assert available_models() == sorted(NAMES + list(TORCHVISION))


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_architectures_split_into_features_and_head(name: str) -> None:
    dim, side = TORCHVISION[name]
    spec = InputSpec(channels=1, height=side, width=side, classes=4)
    model = built(name, spec)
    with torch.no_grad():
        logits = model(images(spec, batch=2))
    assert model.embedding_dim == dim and logits.shape == (2, 4)


@pytest.mark.parametrize("spec_id", SPECS)
@pytest.mark.parametrize("name", NAMES)
def test_logits_and_features_shapes(name: str, spec_id: str) -> None:
    spec = SPECS[spec_id]
    model = built(name, spec)
    x = images(spec)
    with torch.no_grad():
        logits = model(x)
        features = model.features(x)
    assert logits.shape == (3, spec.classes)
    assert model.embedding_dim == EMBEDDING_DIM[name]
    assert features.shape == (3, model.embedding_dim)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", NAMES)
def test_model_is_head_of_features_in_eval_mode(name: str) -> None:
    spec = SPECS["gray28"]
    model = build_model(name, spec, dropout=0.5).eval()
    x = images(spec)
    with torch.no_grad():
        assert torch.allclose(model(x), model.head(model.features(x)), rtol=0, atol=1e-6)


def test_head_applies_dropout_in_train_mode() -> None:
    # BALD relies on the head being stochastic when dropout is on
    spec = SPECS["gray28"]
    model = build_model("small_cnn", spec, dropout=0.5).eval()
    with torch.no_grad():
        emb = model.features(images(spec))
        model.head.train()
        torch.manual_seed(1)
        a = model.head(emb)
        b = model.head(emb)
    assert not torch.allclose(a, b)
    assert isinstance(model.head[0], nn.Dropout)
    assert model.head[0].p == 0.5


def test_lenet_is_the_seed_article_network() -> None:
    spec = SPECS["gray28"]
    model = build_model("lenet", spec)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 6, (5, 5)), (6, 16, (5, 5))]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [lin.out_features for lin in linears] == [120, 84, 10]
    assert linears[0].in_features == 16 * 4 * 4  # 28 -> 24 -> 12 -> 8 -> 4
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 2


def test_lenet_on_rgb_takes_three_channels() -> None:
    model = build_model("lenet", SPECS["rgb32"])
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 3
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears[0].in_features == 16 * 5 * 5  # 32 -> 28 -> 14 -> 10 -> 5
    assert linears[-1].out_features == 7


def test_unknown_model_lists_available_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        build_model("vgg16", SPECS["gray28"])
    message = str(info.value)
    assert message == f"unknown model 'vgg16'; available: {', '.join(available_models())}"
    assert "lenet, mobilenet_v3_large, resnet18" in message
    assert isinstance(info.value, ConfigError)
    assert info.value.exit_code == 2


def test_images_too_small_for_lenet() -> None:
    tiny = InputSpec(channels=1, height=8, width=8, classes=2)
    with pytest.raises(ConfigError, match="lenet needs larger images than 8x8"):
        build_model("lenet", tiny)


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_input_gives_the_same_output(name: str) -> None:
    spec = SPECS["rgb32"]
    model = built(name, spec)
    x = images(spec, batch=2, seed=3)
    with torch.no_grad():
        expected = model(x)
        got = model(x.contiguous(memory_format=torch.channels_last))
        model = model.to(memory_format=torch.channels_last)
        got_both = model(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got, expected, rtol=0, atol=1e-5)
    assert torch.allclose(got_both, expected, rtol=0, atol=1e-5)
