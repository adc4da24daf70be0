"""The project file: shipped configs load, and every mistake is one line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activelearn.config import (
    DEFAULT_CONFIG,
    FASHION_MNIST_CLASSES,
    Config,
    config_from_dict,
    load_config,
    with_overrides,
)
from activelearn.errors import ConfigError
from support import ROOT

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def minimal() -> dict:
    """The smallest valid project file, as parsed YAML."""
    return {"project": {"name": "demo"}, "data": {"source": "fashion-mnist"},
            "classes": ["cat", "dog", "bird"]}


def with_section(section: str, **values) -> dict:
    raw = minimal()
    raw[section] = {**raw.get(section, {}), **values}
    return raw


def config_error(raw, source: str = "project.yaml") -> str:
    """The message a user sees for raw; also checks the contract every ConfigError keeps."""
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source=source)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message
    assert message.startswith(f"{source}: ")
    return message


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# --- shipped configs --------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.path == str(path)
    assert len(cfg.classes) >= 2


def test_fashion_mnist_config_holds_the_default_experiment() -> None:
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.project.name == "fashion-mnist"
    assert cfg.data.source == "fashion-mnist"
    assert cfg.classes == FASHION_MNIST_CLASSES
    assert cfg.model.name == "small_cnn"
    assert cfg.training.schedule == "cosine"
    assert (cfg.loop.initial, cfg.loop.batch, cfg.loop.budget) == (500, 500, 4000)
    assert cfg.splits.source_test is True
    assert cfg.work_dir == Path("runs/fashion-mnist")


def test_defaults_fill_every_optional_section() -> None:
    cfg = config_from_dict(minimal())
    assert cfg.training.lr == 0.05
    assert cfg.strategy.name == "margin"
    assert cfg.work_dir == Path("runs") / "demo"
    assert cfg.path == "<config>"


def test_image_size_becomes_a_tuple() -> None:
    cfg = config_from_dict(with_section("data", image_size=[32, 48], channels=3))
    assert cfg.data.image_size == (32, 48)
    assert cfg.data.channels == 3


# --- types ------------------------------------------------------------------------


def test_wrong_type_names_key_and_value() -> None:
    message = config_error(with_section("training", lr="fast"))
    assert message == 'project.yaml: training.lr: expected a number, got "fast"'


def test_int_is_accepted_where_a_float_is_expected() -> None:
    cfg = config_from_dict(with_section("training", lr=1))
    assert cfg.training.lr == 1.0
    assert isinstance(cfg.training.lr, float)


@pytest.mark.parametrize(("section", "key"), [("training", "lr"), ("loop", "budget")])
def test_bool_is_not_a_number(section: str, key: str) -> None:
    message = config_error(with_section(section, **{key: True}))
    assert f"{section}.{key}: expected " in message
    assert "got True" in message


def test_number_is_not_a_bool() -> None:
    message = config_error(with_section("training", hflip=1))
    assert message == "project.yaml: training.hflip: expected true or false, got 1"


def test_float_is_not_an_int() -> None:
    message = config_error(with_section("loop", budget=2.5))
    assert message == "project.yaml: loop.budget: expected an integer, got 2.5"


@pytest.mark.parametrize("value", [2.5, "automatic", "500", True, None])
def test_loop_batch_is_a_whole_number_or_auto(value) -> None:
    message = config_error(with_section("loop", batch=value))
    assert message.startswith("project.yaml: loop.batch: expected an integer or auto, got ")


def test_loop_batch_auto_and_max_queue_hours_load() -> None:
    cfg = config_from_dict(with_section("loop", batch="auto", max_queue_hours=2.5))
    assert (cfg.loop.batch, cfg.loop.max_queue_hours) == ("auto", 2.5)
    default = config_from_dict(minimal()).loop
    assert (default.batch, default.max_queue_hours) == (500, 8.0)


def test_list_item_of_wrong_type_names_its_index() -> None:
    raw = minimal()
    raw["classes"] = ["cat", 7]
    assert config_error(raw) == "project.yaml: classes[1]: expected a string, got 7"


def test_image_size_needs_two_values() -> None:
    message = config_error(with_section("data", image_size=[28]))
    assert message == "project.yaml: data.image_size: expected a list of 2 values, got a list"


def test_bad_literal_lists_the_choices() -> None:
    message = config_error(with_section("training", schedule="linear"))
    assert message == (
        'project.yaml: training.schedule: expected one of cosine, step, constant, got "linear"'
    )


# --- keys -------------------------------------------------------------------------


def test_unknown_key_lists_allowed_keys() -> None:
    message = config_error(with_section("training", learning_rate=0.1))
    assert message.startswith("project.yaml: training.learning_rate: unknown key (allowed: ")
    for key in ("epochs", "lr", "schedule", "device"):
        assert key in message


def test_unknown_top_level_key() -> None:
    raw = {**minimal(), "optimiser": "sgd"}
    message = config_error(raw)
    assert message.startswith("project.yaml: optimiser: unknown key (allowed: project, data,")
    assert "path" not in message  # not a YAML key


def test_missing_section_value() -> None:
    raw = minimal()
    raw["data"] = {"root": "images"}
    assert config_error(raw) == "project.yaml: data.source: missing value"


def test_empty_section_is_missing_its_required_key() -> None:
    raw = minimal()
    raw["data"] = None  # "data:" with nothing under it
    assert config_error(raw) == "project.yaml: data.source: missing value"


def test_missing_required_section() -> None:
    raw = minimal()
    del raw["project"]
    assert config_error(raw) == "project.yaml: project: missing value"


def test_empty_document_reports_the_first_missing_section() -> None:
    assert config_error(None) == "project.yaml: project: missing value"


def test_section_that_is_not_a_mapping() -> None:
    raw = minimal()
    raw["training"] = 5
    assert config_error(raw) == "project.yaml: training: expected a mapping, got 5"


def test_document_that_is_not_a_mapping() -> None:
    message = config_error(["project", "data"])
    assert message == "project.yaml: top level: expected a mapping, got a list"


# --- semantic checks --------------------------------------------------------------


def test_budget_below_initial() -> None:
    message = config_error(with_section("loop", initial=500, budget=100))
    assert message == "project.yaml: loop.budget: 100 is below loop.initial 500"


def test_duplicate_classes() -> None:
    raw = minimal()
    raw["classes"] = ["cat", "dog", "cat"]
    assert "classes: class names must be distinct" in config_error(raw)


def test_single_class() -> None:
    raw = minimal()
    raw["classes"] = ["cat"]
    assert "classes: need at least 2" in config_error(raw)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
@pytest.mark.parametrize("key", ["test_fraction", "validation_fraction"])
def test_fraction_out_of_range(key: str, fraction: float) -> None:
    message = config_error(with_section("splits", **{key: fraction}))
    assert message == f"project.yaml: splits.{key}: must be in [0, 1), got {fraction}"


def test_fraction_zero_is_allowed() -> None:
    cfg = config_from_dict(with_section("splits", validation_fraction=0))
    assert cfg.splits.validation_fraction == 0.0


@pytest.mark.parametrize(("section", "key"), [("loop", "batch"), ("training", "lr"),
                                               ("training", "batch_size")])
def test_non_positive_values(section: str, key: str) -> None:
    message = config_error(with_section(section, **{key: 0}))
    assert f"{section}.{key}: must be positive, got 0" in message


def test_channels_must_be_one_or_three() -> None:
    message = config_error(with_section("data", channels=4))
    assert message == "project.yaml: data.channels: must be 1 or 3, got 4"


# --- files ------------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "project.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, yaml.safe_dump(with_section("training", lr=0.2)))
    cfg = load_config(path)
    assert cfg.training.lr == 0.2
    assert cfg.path == str(path)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, yaml.safe_dump(with_section("training", lr="fast")))
    assert load_error(path) == f'{path}: training.lr: expected a number, got "fast"'


def test_bad_yaml_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "project:\n  name: demo\ndata:\n  source: fashion-mnist\n"
                           "   root: oops\n")
    message = load_error(path)
    assert message.startswith(f"{path}: not valid YAML (line 5): ")


def test_yaml_with_a_control_character_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "project:\n  name: demo\x07\n")
    assert "not valid YAML" in load_error(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    message = load_error(path)
    assert message == f"{path}: cannot read config: No such file or directory"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "cannot read config" in load_error(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xff\xfe\x00\x89PNG")
    assert "cannot read config" in load_error(path)


# --- overrides --------------------------------------------------------------------


def test_with_overrides_replaces_keys_and_ignores_none() -> None:
    cfg = config_from_dict(minimal())
    updated = with_overrides(cfg, "loop", budget=900, batch=None)
    assert updated.loop.budget == 900
    assert updated.loop.batch == cfg.loop.batch
    assert cfg.loop.budget == 4000  # the original is untouched
    assert updated.training == cfg.training


def test_with_overrides_all_none_is_unchanged() -> None:
    cfg = config_from_dict(minimal())
    assert with_overrides(cfg, "strategy", name=None, mc_passes=None) == cfg
