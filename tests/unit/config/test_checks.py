"""checks.py: every value that would crash or hang a round later is one line at load,
naming the key and what is allowed; a URL's password never shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from activelearn.config import Config, config_from_dict, load_config, with_overrides
from activelearn.config.checks import _limits
from activelearn.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL keys default to environment variables: keep the caller's out."""
    monkeypatch.delenv("ACTIVELEARN_REDIS_URL", raising=False)
    monkeypatch.delenv("ACTIVELEARN_LS_URL", raising=False)


def minimal() -> dict[str, Any]:
    return {"project": {"name": "demo"}, "data": {"source": "fashion-mnist"},
            "classes": ["cat", "dog", "bird"]}


def raw_with(overrides: dict[str, Any]) -> dict[str, Any]:
    """minimal() with some sections' keys replaced (a list or scalar replaces the whole)."""
    raw = minimal()
    for section, value in overrides.items():
        if isinstance(value, dict):
            raw[section] = {**raw.get(section, {}), **value}
        else:
            raw[section] = value
    return raw


def config_error(raw: Any) -> str:
    """The one line a user sees for raw; checks the contract every ConfigError keeps."""
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source="project.yaml")
    message = str(info.value)
    assert info.value.exit_code == 2
    assert len(message.splitlines()) == 1, message
    assert message.startswith("project.yaml: ")
    return message


NAN, INF = float("nan"), float("inf")
BAD_URL_TEMPLATE = {"image_mode": "url-template"}

# (overrides, expected fragment: always starts with the key path). One case per rule at
# least; both bounds of a range where there are two.
CASES: list[tuple[dict[str, Any], str]] = [
    # non-finite floats (every float key: see test_every_float_key_rejects_nan_and_inf)
    ({"training": {"lr": NAN}}, "training.lr: must be a finite number, got nan"),
    ({"model": {"dropout": INF}}, "model.dropout: must be a finite number, got inf"),
    ({"splits": {"test_fraction": -INF}}, "splits.test_fraction: must be a finite number"),
    # loop.schedule
    ({"loop": {"initial": 100, "budget": 400, "schedule": [100, 300, 200, 400]}},
     "loop.schedule: label counts must increase, got [100, 300, 200, 400]"),
    ({"loop": {"initial": 100, "budget": 400, "schedule": [200, 400]}},
     "loop.schedule: must run from loop.initial (100) to loop.budget (400)"),
    # classes
    ({"classes": ["cat"]}, "classes: need at least 2 class names"),
    ({"classes": ["cat", "dog", "cat"]}, 'classes: class names must be distinct, "cat"'),
    ({"classes": ["cat", ""]}, "classes[1]: a class name cannot be empty"),
    ({"classes": ["cat", " dog"]}, "classes[1]: \" dog\" has leading or trailing whitespace"),
    ({"classes": ["cat", "dog "]}, "classes[1]: \"dog \" has leading or trailing"),
    ({"classes": ["cat", "do\ng"]}, "classes[1]: \"do\\ng\" holds the control character"),
    ({"classes": ["ca\tt", "dog"]}, "classes[0]: \"ca\\tt\" holds the control character"),
    ({"classes": ["cat", "d\x00g"]}, "classes[1]: \"d\\x00g\" holds the control character"),
    ({"classes": ["cat", "x" * 201]}, "classes[1]: a class name has 201 characters, at most 200"),
    # project
    ({"project": {"name": ""}}, 'project.name: must be letters A-Z a-z, digits'),
    ({"project": {"name": "my project"}}, 'project.name: must be letters A-Z a-z, digits, '
                                          "'.', '_' or '-'"),
    ({"project": {"name": "a/b"}}, 'project.name: must be letters'),
    ({"project": {"name": ".."}}, 'starting with a letter or digit'),
    ({"project": {"name": "n" * 101}}, "project.name: has 101 characters, at most 100"),
    ({"project": {"seed": -1}}, "project.seed: must be 0 or more, got -1 (allowed: 0 to "
                                "4294967295)"),
    ({"project": {"seed": 2**32}}, "project.seed: must be at most 4294967295, got 4294967296"),
    # loop
    ({"loop": {"initial": 0}}, "loop.initial: must be positive, got 0 (allowed: 1 to "
                               "100000000)"),
    ({"loop": {"initial": 10**8 + 1, "budget": 10**8}}, "loop.initial: must be at most "
                                                        "100000000"),
    ({"loop": {"batch": 0}}, "loop.batch: must be positive, got 0"),
    ({"loop": {"batch": 10**9}}, "loop.batch: must be at most 100000000, got 1000000000"),
    ({"loop": {"max_queue_hours": 0}}, "loop.max_queue_hours: must be positive, got 0.0 "
                                       "(allowed: above 0, up to 10000 hours)"),
    ({"loop": {"max_queue_hours": 10_001}}, "loop.max_queue_hours: must be at most 10000"),
    ({"loop": {"budget": 10**8 + 1}}, "loop.budget: must be at most 100000000"),
    ({"loop": {"min_new_labels": 0}}, "loop.min_new_labels: must be positive, got 0"),
    ({"loop": {"min_queued": -1}}, "loop.min_queued: must be 0 or more, got -1"),
    ({"loop": {"initial": 500, "budget": 100}}, "loop.budget: 100 is below loop.initial 500"),
    # training
    ({"training": {"epochs": 0}}, "training.epochs: must be positive, got 0"),
    ({"training": {"epochs": 10_001}}, "training.epochs: must be at most 10000, got 10001"),
    ({"training": {"min_steps": -1}}, "training.min_steps: must be 0 or more, got -1"),
    ({"training": {"min_steps": 10**7 + 1}}, "training.min_steps: must be at most 10000000"),
    ({"training": {"batch_size": 0}}, "training.batch_size: must be positive, got 0"),
    ({"training": {"batch_size": 65_537}}, "training.batch_size: must be at most 65536"),
    ({"training": {"lr": 0}}, "training.lr: must be positive, got 0.0 (allowed: above 0, "
                              "up to 10)"),
    ({"training": {"lr": 10.5}}, "training.lr: must be at most 10, got 10.5"),
    ({"training": {"momentum": 1.0}}, "training.momentum: must be in [0, 1), got 1.0"),
    ({"training": {"momentum": -0.1}}, "training.momentum: must be in [0, 1), got -0.1"),
    ({"training": {"weight_decay": -1e-4}}, "training.weight_decay: must be 0 or more"),
    ({"training": {"l1": -0.5}}, "training.l1: must be 0 or more, got -0.5"),
    ({"training": {"crop_pad": -1}}, "training.crop_pad: must be 0 or more, got -1"),
    ({"training": {"converge": 1.5}}, "training.converge: must be in [0, 1], got 1.5"),
    ({"training": {"max_steps": 0}}, "training.max_steps: must be positive, got 0"),
    ({"training": {"crop_pad": 65}}, "training.crop_pad: must be at most 64, got 65 (allowed: 0 to "
                                  "64 pixels)"),
    ({"training": {"threads": -1}}, "training.threads: must be 0 or more, got -1"),
    ({"training": {"threads": 100_000}}, "training.threads: must be at most 1024"),
    ({"training": {"device": "tpu7"}}, 'training.device: must be auto, cpu, cuda, cuda:N '
                                       '(N = 0, 1, ...) or mps, got "tpu7"'),
    ({"training": {"device": "cuda:x"}}, 'training.device: must be auto, cpu, cuda'),
    ({"training": {"device": "gpu"}}, 'training.device: must be auto'),
    ({"training": {"device": "cuda:-1"}}, 'training.device: must be auto'),
    ({"training": {"device": "CPU"}}, 'training.device: must be auto'),
    ({"training": {"random_crop": [0.5, 0.4]}},
     "training.random_crop: [min, max] with 0 < min <= max <= 1, got [0.5, 0.4] (or leave it "
     "out)"),
    # training.semi_supervised
    ({"training": {"semi_supervised": {"threshold": 1.5}}},
     "training.semi_supervised.threshold: must be in (0, 1], got 1.5"),
    ({"training": {"semi_supervised": {"threshold": 0}}},
     "training.semi_supervised.threshold: must be in (0, 1], got 0.0"),
    ({"training": {"semi_supervised": {"ratio": 0}}},
     "training.semi_supervised.ratio: must be positive, got 0 (allowed: 1 to 64 per labeled "
     "image)"),
    ({"training": {"semi_supervised": {"ratio": 65}}},
     "training.semi_supervised.ratio: must be at most 64, got 65"),
    ({"training": {"semi_supervised": {"weight": 0}}},
     "training.semi_supervised.weight: must be positive, got 0.0 (allowed: above 0, up to "
     "100)"),
    ({"training": {"semi_supervised": {"weight": 101}}},
     "training.semi_supervised.weight: must be at most 100, got 101.0"),
    ({"training": {"semi_supervised": {"warmup": 1.0}}},
     "training.semi_supervised.warmup: must be in [0, 1), got 1.0"),
    ({"training": {"semi_supervised": {"warmup": -0.1}}},
     "training.semi_supervised.warmup: must be in [0, 1), got -0.1"),
    ({"training": {"semi_supervised": {"threshold": NAN}}},
     "training.semi_supervised.threshold: must be a finite number, got nan"),
    # pretrain
    ({"pretrain": {"epochs": 0}}, "pretrain.epochs: must be positive, got 0"),
    ({"pretrain": {"epochs": 10_001}}, "pretrain.epochs: must be at most 10000, got 10001"),
    ({"pretrain": {"batch_size": 15}}, "pretrain.batch_size: must be 16 or more, got 15 "
                                       "(allowed: 16 to 65536 images)"),
    ({"pretrain": {"batch_size": 65_537}}, "pretrain.batch_size: must be at most 65536"),
    ({"pretrain": {"lr": 0}}, "pretrain.lr: must be positive, got 0.0"),
    ({"pretrain": {"lr": 11}}, "pretrain.lr: must be at most 10, got 11.0"),
    ({"pretrain": {"temperature": 0}}, "pretrain.temperature: must be positive, got 0.0"),
    ({"pretrain": {"temperature": 10.5}}, "pretrain.temperature: must be at most 10"),
    ({"pretrain": {"projection_dim": 7}}, "pretrain.projection_dim: must be 8 or more, got 7"),
    ({"pretrain": {"projection_dim": 8193}}, "pretrain.projection_dim: must be at most 8192"),
    ({"pretrain": {"crop": [0, 1]}}, "pretrain.crop: [min, max] with 0 < min <= max <= 1, got "
                                     "[0.0, 1.0]"),
    ({"pretrain": {"crop": [0.8, 0.5]}}, "pretrain.crop: [min, max] with 0 < min <= max <= 1"),
    ({"pretrain": {"crop": [0.5, 1.5]}}, "pretrain.crop: [min, max] with 0 < min <= max <= 1"),
    ({"pretrain": {"brightness": -0.1}}, "pretrain.brightness: must be 0 or more, got -0.1"),
    ({"pretrain": {"brightness": 11}}, "pretrain.brightness: must be at most 10, got 11.0 "
                                       "(allowed: 0 to 10 standard deviations)"),
    ({"pretrain": {"contrast": 1.0}}, "pretrain.contrast: must be in [0, 1), got 1.0"),
    ({"pretrain": {"contrast": -0.5}}, "pretrain.contrast: must be in [0, 1), got -0.5"),
    ({"pretrain": {"items_per_epoch": -1}}, "pretrain.items_per_epoch: must be 0 or more"),
    ({"pretrain": {"items_per_epoch": 10**9 + 1}}, "pretrain.items_per_epoch: must be at most "
                                                   "1000000000"),
    ({"pretrain": {"min_items": 1}}, "pretrain.min_items: must be 2 or more, got 1"),
    ({"pretrain": {"min_items": 10**9 + 1}}, "pretrain.min_items: must be at most 1000000000"),
    # model
    ({"model": {"dropout": 1.0}}, "model.dropout: must be in [0, 1), got 1.0"),
    ({"model": {"dropout": -0.25}}, "model.dropout: must be in [0, 1), got -0.25"),
    # strategy
    ({"strategy": {"mc_passes": 0}}, "strategy.mc_passes: must be positive, got 0"),
    ({"strategy": {"mc_passes": 1001}}, "strategy.mc_passes: must be at most 1000"),
    ({"strategy": {"candidates": -5}}, "strategy.candidates: must be 0 or more, got -5"),
    ({"strategy": {"score_batch_size": 0}}, "strategy.score_batch_size: must be positive"),
    ({"strategy": {"score_batch_size": 65_537}}, "strategy.score_batch_size: must be at most "
                                                 "65536"),
    ({"strategy": {"auto_switch_at": 0}}, "strategy.auto_switch_at: must be positive, got 0 "
                                          "(allowed: 1 to 100000000 labels)"),
    ({"strategy": {"auto_switch_at": 10**8 + 1}}, "strategy.auto_switch_at: must be at most"),
    ({"strategy": {"name": "auto", "auto_early": "auto"}},
     "strategy.auto_early: must name a strategy, got auto (auto picks between "
     "strategy.auto_early and strategy.auto_late)"),
    ({"strategy": {"auto_late": "auto"}}, "strategy.auto_late: must name a strategy, got auto"),
    # data
    ({"data": {"image_size": [0, 28]}}, "data.image_size: each side must be 1 to 4096 "
                                        "pixels, got [0, 28]"),
    ({"data": {"image_size": [28, 4097]}}, "data.image_size: each side must be 1 to 4096"),
    ({"data": {"channels": 4}}, "data.channels: must be 1 or 3, got 4"),
    ({"data": {"limit": -1}}, "data.limit: must be 0 or more"),
    ({"data": {"test_limit": -2}}, "data.test_limit: must be 0 or more"),
    # splits
    ({"splits": {"test_fraction": 1.0}}, "splits.test_fraction: must be in [0, 1), got 1.0"),
    ({"splits": {"validation_fraction": -0.1}}, "splits.validation_fraction: must be in "
                                                "[0, 1)"),
    # label_studio: numbers
    ({"label_studio": {"import_chunk": 0}}, "label_studio.import_chunk: must be positive"),
    ({"label_studio": {"import_chunk": 10_001}}, "label_studio.import_chunk: must be at most "
                                                 "10000"),
    ({"label_studio": {"parallel_requests": 0}}, "label_studio.parallel_requests: must be "
                                                 "positive"),
    ({"label_studio": {"parallel_requests": 65}}, "label_studio.parallel_requests: must be at "
                                                  "most 64"),
    ({"label_studio": {"holdout": -1}}, "label_studio.holdout: must be 0 or more"),
    ({"label_studio": {"overlap": 0}}, "label_studio.overlap: must be positive, got 0"),
    ({"label_studio": {"overlap": 101}}, "label_studio.overlap: must be at most 100"),
    ({"label_studio": {"holdout_overlap": 0}}, "label_studio.holdout_overlap: must be "
                                               "positive"),
    ({"label_studio": {"holdout_overlap": 101}}, "label_studio.holdout_overlap: must be at "
                                                 "most 100"),
    ({"label_studio": {"overlap_fraction": 1.5}}, "label_studio.overlap_fraction: must be in "
                                                  "[0, 1], got 1.5"),
    # loop: the forecast's target and stop_when
    ({"loop": {"target_accuracy": 1.5}}, "loop.target_accuracy: must be in [0, 1], got 1.5"),
    ({"loop": {"stop_when": {"gain_per_1000": -0.1}}}, "loop.stop_when.gain_per_1000: must "
                                                       "be in [0, 1], got -0.1"),
    ({"loop": {"stop_when": {"accuracy": 90.0}}}, "loop.stop_when.accuracy: must be in "
                                                  "[0, 1], got 90.0"),
    ({"loop": {"stop_when": {"gain_per_1000": float("nan")}}},
     "loop.stop_when.gain_per_1000: must be a finite number, got nan"),
    ({"loop": {"stop_when": {"after": 3}}}, "loop.stop_when.after: unknown key (allowed: "
                                            "gain_per_1000, accuracy, strict)"),
    # label_studio: url
    ({"label_studio": {"url": "ftp://ls.example"}}, "label_studio.url: must start with "
                                                    "http://, https://"),
    ({"label_studio": {"url": "localhost:8080"}}, "label_studio.url: must start with http://"),
    ({"label_studio": {"url": "http://"}}, "label_studio.url: needs a host"),
    ({"label_studio": {"url": "http://ls:80a"}}, "label_studio.url: the port must be a whole "
                                                 "number from 1 to 65535"),
    ({"label_studio": {"url": "http://[::1"}}, "label_studio.url: not a valid URL"),
    # label_studio: image modes
    ({"label_studio": BAD_URL_TEMPLATE}, "label_studio.url_template: needed when image_mode "
                                         "is url-template"),
    ({"label_studio": {"url_template": "https://b/{item_id"}}, "label_studio.url_template: "
                                                               "not a valid template"),
    ({"label_studio": {"url_template": "https://b/}{path}"}}, "label_studio.url_template: "
                                                              "not a valid template"),
    ({"label_studio": {"url_template": "https://b/{0}"}}, 'label_studio.url_template: '
                                                          'placeholder "{0}" is not allowed'),
    ({"label_studio": {"url_template": "https://b/{}"}}, 'placeholder "{}" is not allowed'),
    ({"label_studio": {"url_template": "https://b/{item_id!r}"}}, 'placeholder "{item_id!r}"'),
    ({"label_studio": {"url_template": "https://b/{path:>10}"}}, 'placeholder "{path:>10}"'),
    ({"label_studio": {"url_template": "https://b/{path}/{other}"}}, 'placeholder "{other}"'),
    ({"label_studio": {"url_template": "https://b/{path.x}"}}, 'placeholder "{path.x}"'),
    ({"label_studio": {"url_template": "https://b/one.png"}}, "label_studio.url_template: "
                                                              "needs {item_id} or {path}"),
    ({"label_studio": {"url_template": "images/{path}"}}, "label_studio.url_template: must "
                                                          "start with http://, https:// or /"),
    ({"label_studio": {"image_mode": "local-files"}}, "label_studio.document_root: needed when "
                                                      "image_mode is local-files"),
    ({"label_studio": {"image_mode": "local-files", "document_root": "images"}},
     'label_studio.document_root: must be an absolute path'),
    ({"label_studio": {"image_mode": "url", "presign_expiry": 59}},
     "label_studio.presign_expiry: must be 60 or more, got 59 (allowed: 60 to 604800 "
     "seconds, 7 days: the longest S3 signs a URL for)"),
    ({"label_studio": {"presign_expiry": 604_801}}, "label_studio.presign_expiry: must be at "
                                                    "most 604800, got 604801"),
    # jobs: numbers
    ({"jobs": {"shard_size": 0}}, "jobs.shard_size: must be positive"),
    ({"jobs": {"shard_size": 10**7 + 1}}, "jobs.shard_size: must be at most 10000000"),
    ({"jobs": {"keep_models": 0}}, "jobs.keep_models: must be positive"),
    ({"jobs": {"keep_models": 1001}}, "jobs.keep_models: must be at most 1000"),
    ({"jobs": {"train_timeout": 0}}, "jobs.train_timeout: must be positive"),
    ({"jobs": {"train_timeout": 604_801}}, "jobs.train_timeout: must be at most 604800, got "
                                           "604801 (allowed: 1 to 604800 seconds, 7 days)"),
    ({"jobs": {"pretrain_timeout": 0}}, "jobs.pretrain_timeout: must be positive"),
    ({"jobs": {"pretrain_timeout": 604_801}}, "jobs.pretrain_timeout: must be at most 604800"),
    ({"jobs": {"score_timeout": 0}}, "jobs.score_timeout: must be positive"),
    ({"jobs": {"score_timeout": 10**9}}, "jobs.score_timeout: must be at most 604800"),
    ({"jobs": {"select_timeout": -1}}, "jobs.select_timeout: must be positive"),
    ({"jobs": {"select_timeout": 10**6}}, "jobs.select_timeout: must be at most 604800"),
    ({"jobs": {"wait_for_worker": 0}}, "jobs.wait_for_worker: must be positive"),
    ({"jobs": {"wait_for_worker": 10**6}}, "jobs.wait_for_worker: must be at most 604800"),
    ({"jobs": {"heartbeat": 0}}, "jobs.heartbeat: must be positive"),
    ({"jobs": {"heartbeat": 3601, "wait_for_worker": 7200}}, "jobs.heartbeat: must be at "
                                                             "most 3600"),
    ({"jobs": {"heartbeat": 600, "wait_for_worker": 600}}, "jobs.heartbeat: must be below "
                                                           "jobs.wait_for_worker (600 seconds)"),
    ({"jobs": {"retries": -1}}, "jobs.retries: must be 0 or more"),
    ({"jobs": {"retries": 101}}, "jobs.retries: must be at most 100"),
    ({"jobs": {"gpu_queue": ""}}, "jobs.gpu_queue / jobs.cpu_queue: a queue needs a name"),
    ({"jobs": {"cpu_queue": ""}}, "jobs.gpu_queue / jobs.cpu_queue: a queue needs a name"),
    # jobs: redis_url
    ({"jobs": {"redis_url": "localhost:6379"}}, "jobs.redis_url: must start with redis://, "
                                                "rediss://, unix://"),
    ({"jobs": {"redis_url": "http://h:6379/0"}}, "jobs.redis_url: must start with redis://"),
    ({"jobs": {"redis_url": "redis:///0"}}, "jobs.redis_url: needs a host"),
    ({"jobs": {"redis_url": "redis://h:abc/0"}}, "jobs.redis_url: the port must be a whole "
                                                 "number from 1 to 65535"),
    ({"jobs": {"redis_url": "redis://h:0/0"}}, "jobs.redis_url: the port must be"),
    ({"jobs": {"redis_url": "rediss://h:65536"}}, "jobs.redis_url: the port must be"),
    ({"jobs": {"redis_url": "redis://h/abc"}}, "jobs.redis_url: the database (the path, e.g. "
                                               "/0, or db=) must be a whole number"),
    ({"jobs": {"redis_url": "redis://h/-1"}}, "jobs.redis_url: the database"),
    ({"jobs": {"redis_url": "redis://h:6379?db=two"}}, "jobs.redis_url: the database"),
    ({"jobs": {"redis_url": "unix:///run/redis.sock?db=x"}}, "jobs.redis_url: the database"),
    ({"jobs": {"redis_url": "unix://"}}, "jobs.redis_url: needs the socket's path"),
    # quality
    ({"quality": {"gold_rate": 1.0, "gold_file": "g.csv"}}, "quality.gold_rate: must be in "
                                                            "[0, 1), got 1.0"),
    ({"quality": {"gold_rate": 0.1}}, "quality.gold_file: needed when quality.gold_rate is "
                                      "above 0"),
    ({"quality": {"relabel_fraction": 1.0}}, "quality.relabel_fraction: must be in [0, 1)"),
    ({"quality": {"relabel_max_annotations": 1}}, "quality.relabel_max_annotations: must be 2 "
                                                  "or more, got 1 (allowed: 2 to 100)"),
    ({"quality": {"relabel_max_annotations": 101}}, "quality.relabel_max_annotations: must be "
                                                    "at most 100"),
    ({"quality": {"review_per_round": -1}}, "quality.review_per_round: must be 0 or more"),
    ({"quality": {"review_folds": 1}}, "quality.review_folds: must be 2 or more, got 1"),
    ({"quality": {"review_folds": 21}}, "quality.review_folds: must be at most 20"),
    ({"quality": {"review_min_confidence": 1.2}}, "quality.review_min_confidence: must be in "
                                                  "[0, 1], got 1.2"),
    # cleaning
    ({"cleaning": {"near_threshold": 0.0}}, "cleaning.near_threshold: must be in (0, 1], got "
                                            "0.0"),
]


@pytest.mark.parametrize(("overrides", "fragment"), CASES,
                         ids=[fragment.split(":")[0] for _, fragment in CASES])
def test_each_rule_is_a_one_line_error_naming_the_key(overrides: dict, fragment: str) -> None:
    message = config_error(raw_with(overrides))
    assert fragment in message


def test_every_ranged_key_has_a_case() -> None:
    """A key added to the range table without a case here fails this test."""
    keys = {key for key, _, _ in _limits(config_from_dict(minimal()))}
    tested = {fragment.split(":")[0] for _, fragment in CASES}
    assert keys - tested == set()


def float_keys() -> list[str]:
    cfg = config_from_dict(minimal())
    return [f"{section.name}.{f.name}" for section in dataclasses.fields(Config)
            if dataclasses.is_dataclass(value := getattr(cfg, section.name))
            for f in dataclasses.fields(value) if isinstance(getattr(value, f.name), float)]


def test_the_float_keys_are_found() -> None:
    assert {"training.lr", "model.dropout", "cleaning.near_threshold"} <= set(float_keys())
    assert len(float_keys()) >= 12


@pytest.mark.parametrize("value", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", float_keys())
def test_every_float_key_rejects_nan_and_inf(key: str, value: float) -> None:
    section, name = key.split(".")
    message = config_error(raw_with({section: {name: value}}))
    assert message == (f"project.yaml: {key}: must be a finite number, got {value} "
                       "(.nan and .inf are not allowed)")


@pytest.mark.parametrize("url", [
    "redis://:Zq9Xw7@h:abc/0",            # bad port
    "redis://user:Zq9Xw7@/0",             # no host
    "redis://:Zq9Xw7@h/abc",              # bad database
    "redis://:Zq9Xw7@h:6379?db=x",        # bad db=
    "http://user:Zq9Xw7@h:6379/0",        # wrong scheme
    "user:Zq9Xw7@h:6379",                 # no scheme at all
    "redis://:Zq9/Xw7@h:6379/0",          # a "/" in the password ends the host part early
    "redis://:Zq9?Xw7@h:6379/0",          # so does a "?"
    "redis:/:Zq9Xw7@h/0",                 # one slash
])
def test_a_redis_password_never_shows(url: str) -> None:
    message = config_error(raw_with({"jobs": {"redis_url": url}}))
    assert "jobs.redis_url: " in message
    assert "Zq9" not in message and "Xw7" not in message
    assert "***" in message


def test_a_password_with_a_slash_gets_a_hint() -> None:
    message = config_error(raw_with({"jobs": {"redis_url": "redis://:Zq9/Xw7@h:6379/0"}}))
    assert "percent-encode '/', '?' and '#' in a password" in message


def test_a_label_studio_password_never_shows() -> None:
    message = config_error(raw_with({"label_studio": {"url": "http://u:Zq9Xw7@h:99999"}}))
    assert message.startswith("project.yaml: label_studio.url: the port must be")
    assert "Zq9" not in message and 'http://u:***@h:99999' in message


def test_a_url_from_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVELEARN_REDIS_URL", "localhost:6379")
    message = config_error(minimal())
    assert "jobs.redis_url: must start with" in message
    assert "$ACTIVELEARN_REDIS_URL" in message


@pytest.mark.parametrize("overrides", [
    {"training": {"device": device}} for device in ("auto", "cpu", "cuda", "cuda:0",
                                                    "cuda:12", "mps")
] + [
    {"jobs": {"redis_url": url}} for url in (
        "redis://127.0.0.1:6379/0", "redis://h", "redis://h/", "rediss://u:p%2Fw@h:6380/15",
        "redis://h:6379?db=3", "unix:///run/redis.sock", "unix:///run/redis.sock?db=2",
        "redis://[::1]:6379/1")
] + [
    {"label_studio": {"url": url}} for url in ("http://127.0.0.1:8080", "https://ls.example",
                                               "http://u:p@ls:8080/prefix")
] + [
    {"label_studio": {"image_mode": "url-template", "url_template": template}}
    for template in ("https://bucket.example.com/images/{path}", "/data/{item_id}.png",
                     "http://h/{path}?id={item_id}&x={{literal}}")
] + [
    {"label_studio": {"image_mode": "local-files", "document_root": "/srv/images"}},
    {"label_studio": {"image_mode": "url"}},
    {"label_studio": {"image_mode": "url", "presign_expiry": 60}},
    {"label_studio": {"image_mode": "url", "presign_expiry": 604_800}},
    {"classes": ["T-shirt/top", "Ankle boot", "Größe", "x" * 200]},
    {"project": {"name": "fashion-mnist_v2.1", "seed": 2**32 - 1}},
    {"project": {"name": "n" * 100}},
    {"training": {"lr": 10, "threads": 1024, "epochs": 10_000, "min_steps": 0,
                  "crop_pad": 64, "momentum": 0, "weight_decay": 0, "batch_size": 65_536}},
    {"model": {"dropout": 0.0}},
    {"training": {"semi_supervised": {"enabled": True, "threshold": 1, "ratio": 64,
                                      "weight": 100, "warmup": 0}}},
    {"training": {"semi_supervised": {"threshold": 1e-9, "ratio": 1, "weight": 1e-9,
                                      "warmup": 0.999}}},
    {"pretrain": {"epochs": 10_000, "batch_size": 65_536, "lr": 10, "temperature": 10,
                  "projection_dim": 8192, "crop": [1, 1], "brightness": 10,
                  "contrast": 0.999, "items_per_epoch": 10**9, "min_items": 10**9}},
    {"pretrain": {"epochs": 1, "batch_size": 16, "projection_dim": 8, "crop": [1e-9, 1e-9],
                  "brightness": 0, "contrast": 0, "items_per_epoch": 0, "min_items": 2}},
    {"strategy": {"name": "auto", "auto_switch_at": 1}},
    {"strategy": {"name": "auto", "auto_switch_at": 10**8}},
    {"strategy": {"mc_passes": 1000, "score_batch_size": 65_536, "candidates": 0}},
    {"data": {"image_size": [1, 4096], "limit": 0, "test_limit": 0}},
    {"loop": {"initial": 10**8, "batch": 10**8, "budget": 10**8}},
    {"jobs": {"train_timeout": 604_800, "score_timeout": 604_800, "select_timeout": 604_800,
              "wait_for_worker": 604_800, "heartbeat": 3600, "retries": 100,
              "shard_size": 10**7}},
    {"jobs": {"heartbeat": 599, "wait_for_worker": 600}},
    {"label_studio": {"import_chunk": 10_000, "parallel_requests": 64, "overlap": 100,
                      "holdout_overlap": 100}},
    {"quality": {"review_folds": 20, "relabel_max_annotations": 100}},
])
def test_values_at_the_edges_are_allowed(overrides: dict) -> None:
    config_from_dict(raw_with(overrides))


def test_yaml_nan_and_inf_are_rejected_by_load_config(tmp_path: Path) -> None:
    path = tmp_path / "project.yaml"
    path.write_text("project: {name: demo}\ndata: {source: fashion-mnist}\n"
                    "classes: [cat, dog]\ntraining: {lr: .nan, momentum: .inf}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: training.lr: must be a finite number, got nan "
                               "(.nan and .inf are not allowed)")


def test_overrides_are_checked_too() -> None:
    cfg = config_from_dict(minimal())
    with pytest.raises(ConfigError, match=r"^<config>: loop\.batch: must be at most 100000000"):
        with_overrides(cfg, "loop", batch=10**9)


@pytest.mark.parametrize("train", ["scratch", "head", "finetune"])
def test_semi_supervised_rounds_load_in_every_training_mode(train: str) -> None:
    """head mode too: with no images to augment, its strong view of an embedding is the
    embedding under dropout (SemiSupervisedConfig)."""
    weights = {} if train == "scratch" else {"weights": "backbone.pt"}
    cfg = config_from_dict(raw_with({"model": {"train": train, **weights},
                                     "training": {"semi_supervised": {"enabled": True}}}))
    assert cfg.model.train == train and cfg.training.semi_supervised.enabled
