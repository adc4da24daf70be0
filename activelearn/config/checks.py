"""What types cannot say about a project file: ranges, combinations of keys, the shape of
names and URLs, and the names of pluggables (strategies, models, sources) against their
registries.

Every value that would crash or hang a round later (a NaN learning rate, a thread count
that makes torch segfault, a Redis URL whose database silently falls back to 0) is
rejected here, at load, as one line: ``key.path: what is wrong, the value, what is allowed``.
A URL's password is never shown: it appears as ``***``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from activelearn.config.ranges import Range
from activelearn.config.schema import (
    Config,
    DataConfig,
    JobsConfig,
    LoopConfig,
    ModelConfig,
    ProjectConfig,
)
from activelearn.config.serve import serve_problems
from activelearn.config.service_checks import service_problems, show
from activelearn.config.strategy import AUTO_STRATEGY, StrategyConfig
from activelearn.errors import ConfigError, UnknownNameError

WEEK = 7 * 24 * 3600  # seconds: the longest timeout or wait a round may ask for
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEVICE = re.compile(r"auto|cpu|cuda|cuda:[0-9]+|mps")
# Characters a class name may not hold: they break the one-line label lists annotators
# see and the CSV/JSON files the names go into (categories: control, surrogate, line and
# paragraph separators).
BAD_CHARACTERS = ("Cc", "Cs", "Zl", "Zp")


def check_semantics(cfg: Config, source: str) -> None:
    """Raise ConfigError (one line: source, key path, the problem) for the first value
    out of range or combination of keys that cannot work."""
    problem = next(_problems(cfg), None)
    if problem is not None:
        raise ConfigError(f"{source}: {problem}")


def _problems(cfg: Config) -> Iterator[str]:
    """Every problem of cfg, the most basic first (a NaN before the ranges it breaks)."""
    yield from _non_finite(cfg, "")
    yield from _class_problems(cfg.classes)
    yield from _project_problems(cfg.project)
    for key, value, allowed in _limits(cfg):
        problem = allowed.problem(key, value)
        if problem is not None:
            yield problem
    yield from _fraction_problems(cfg)
    yield from _growth_problems(cfg.loop.batch_growth)
    yield from _schedule_problems(cfg.loop)
    yield from _data_problems(cfg.data)
    yield from _crop_problems(cfg)
    yield from _auto_problems(cfg.strategy)
    if not DEVICE.fullmatch(cfg.training.device):
        yield ("training.device: must be auto, cpu, cuda, cuda:N (N = 0, 1, ...) or mps, "
               f"got {show(cfg.training.device)}")
    yield from _combination_problems(cfg)
    yield from service_problems(cfg)  # label_studio, data.root's URL, jobs
    yield from serve_problems(cfg.serve)
    yield from _model_problems(cfg)
    yield from _pool_weights_problems(cfg.model)


def _non_finite(value: Any, at: str) -> Iterator[str]:
    """A problem for every NaN or infinite float in value (a dataclass, walked field by
    field, a list or tuple, or a scalar) at key path `at`."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _non_finite(getattr(value, f.name), f"{at}.{f.name}" if at else f.name)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _non_finite(item, f"{at}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        yield f"{at}: must be a finite number, got {value} (.nan and .inf are not allowed)"


def _limits(cfg: Config) -> list[tuple[str, float, Range]]:
    """(key, value, allowed range) of every number with a plain range."""
    t, s, loop, ls, q = cfg.training, cfg.strategy, cfg.loop, cfg.label_studio, cfg.quality
    return [
        ("project.seed", cfg.project.seed, Range(0, 2**32 - 1)),
        ("loop.initial", loop.initial, Range(1, 10**8)),
        *([("loop.batch", loop.batch, Range(1, 10**8))] if isinstance(loop.batch, int) else []),
        ("loop.max_queue_hours", loop.max_queue_hours, Range(0, 10_000, above=True,
                                                             note=" hours")),
        ("loop.budget", loop.budget, Range(1, 10**8)),
        ("loop.min_new_labels", loop.min_new_labels, Range(1)),
        ("loop.min_queued", loop.min_queued, Range(0)),
        ("training.epochs", t.epochs, Range(1, 10_000)),
        ("training.min_steps", t.min_steps, Range(0, 10**7)),
        ("training.batch_size", t.batch_size, Range(1, 65_536)),
        ("training.lr", t.lr, Range(0, 10, above=True)),
        ("training.weight_decay", t.weight_decay, Range(0)),
        ("training.l1", t.l1, Range(0)),
        ("training.crop_pad", t.crop_pad, Range(0, 64, note=" pixels")),
        ("training.max_steps", t.max_steps, Range(1, 10**7)),
        ("training.threads", t.threads, Range(0, 1024)),
        ("strategy.mc_passes", s.mc_passes, Range(1, 1000)),
        ("strategy.candidates", s.candidates, Range(0)),
        ("strategy.score_batch_size", s.score_batch_size, Range(1, 65_536)),
        ("strategy.auto_switch_at", s.auto_switch_at, Range(1, 10**8, note=" labels")),
        ("label_studio.presign_expiry", ls.presign_expiry,
         Range(60, WEEK, note=" seconds, 7 days: the longest S3 signs a URL for")),
        ("label_studio.import_chunk", ls.import_chunk, Range(1, 10_000)),
        ("label_studio.parallel_requests", ls.parallel_requests, Range(1, 64)),
        ("label_studio.holdout", ls.holdout, Range(0)),
        ("label_studio.overlap", ls.overlap, Range(1, 100)),
        ("label_studio.holdout_overlap", ls.holdout_overlap, Range(1, 100)),
        ("quality.relabel_max_annotations", q.relabel_max_annotations, Range(2, 100)),
        ("quality.review_per_round", q.review_per_round, Range(0)),
        ("quality.review_folds", q.review_folds, Range(2, 20)),
        *_jobs_limits(cfg.jobs),
        *_unlabeled_limits(cfg),
    ]


def _jobs_limits(jobs: JobsConfig) -> list[tuple[str, float, Range]]:
    seconds = Range(1, WEEK, note=" seconds, 7 days")
    return [
        ("jobs.shard_size", jobs.shard_size, Range(1, 10**7)),
        ("jobs.train_timeout", jobs.train_timeout, seconds),
        ("jobs.score_timeout", jobs.score_timeout, seconds),
        ("jobs.select_timeout", jobs.select_timeout, seconds),
        ("jobs.pretrain_timeout", jobs.pretrain_timeout, seconds),
        ("jobs.wait_for_worker", jobs.wait_for_worker, seconds),
        ("jobs.heartbeat", jobs.heartbeat, Range(1, 3600, note=" seconds")),
        ("jobs.retries", jobs.retries, Range(0, 100)),
        ("jobs.keep_models", jobs.keep_models, Range(1, 1000)),
    ]


def _unlabeled_limits(cfg: Config) -> list[tuple[str, float, Range]]:
    """pretrain and training.semi_supervised: what learns from unlabeled items."""
    p, semi = cfg.pretrain, cfg.training.semi_supervised
    return [
        ("pretrain.epochs", p.epochs, Range(1, 10_000)),
        ("pretrain.batch_size", p.batch_size, Range(16, 65_536, note=" images")),
        ("pretrain.lr", p.lr, Range(0, 10, above=True)),
        ("pretrain.temperature", p.temperature, Range(0, 10, above=True)),
        ("pretrain.projection_dim", p.projection_dim, Range(8, 8192)),
        ("pretrain.brightness", p.brightness, Range(0, 10, note=" standard deviations")),
        ("pretrain.items_per_epoch", p.items_per_epoch, Range(0, 10**9)),
        ("pretrain.min_items", p.min_items, Range(2, 10**9)),
        ("training.semi_supervised.ratio", semi.ratio, Range(1, 64, note=" per labeled image")),
        ("training.semi_supervised.weight", semi.weight, Range(0, 100, above=True)),
    ]


def _fraction_problems(cfg: Config) -> Iterator[str]:
    """Shares and probabilities: numbers in [0, 1], each bound open or closed."""
    q = cfg.quality
    for key, value, interval in [
        ("model.dropout", cfg.model.dropout, "[0, 1)"),
        ("training.momentum", cfg.training.momentum, "[0, 1)"),
        ("training.converge", cfg.training.converge, "[0, 1]"),
        ("training.semi_supervised.threshold", cfg.training.semi_supervised.threshold,
         "(0, 1]"),
        ("training.semi_supervised.warmup", cfg.training.semi_supervised.warmup, "[0, 1)"),
        ("pretrain.contrast", cfg.pretrain.contrast, "[0, 1)"),
        ("splits.test_fraction", cfg.splits.test_fraction, "[0, 1)"),
        ("splits.validation_fraction", cfg.splits.validation_fraction, "[0, 1)"),
        ("label_studio.overlap_fraction", cfg.label_studio.overlap_fraction, "[0, 1]"),
        ("loop.target_accuracy", cfg.loop.target_accuracy, "[0, 1]"),
        ("loop.stop_when.gain_per_1000", cfg.loop.stop_when.gain_per_1000, "[0, 1]"),
        ("loop.stop_when.accuracy", cfg.loop.stop_when.accuracy, "[0, 1]"),
        ("quality.gold_rate", q.gold_rate, "[0, 1)"),
        ("quality.relabel_fraction", q.relabel_fraction, "[0, 1)"),
        ("quality.review_min_confidence", q.review_min_confidence, "[0, 1]"),
        ("cleaning.near_threshold", cfg.cleaning.near_threshold, "(0, 1]"),
    ]:
        low_ok = value >= 0 if interval[0] == "[" else value > 0
        high_ok = value <= 1 if interval[-1] == "]" else value < 1
        if not (low_ok and high_ok):
            yield f"{key}: must be in {interval}, got {value}"


def _growth_problems(growth: float) -> Iterator[str]:
    # its own check: Range calls a low of 1 "positive", which reads wrong for 0.5
    if not 1 <= growth <= 100:
        yield (f"loop.batch_growth: must be 1 to 100 (1 = fixed batches of loop.batch, 2 = "
               f"double the labels each round), got {growth}")


def _schedule_problems(loop: LoopConfig) -> Iterator[str]:
    counts = loop.schedule
    if not counts:
        return
    if any(b <= a for a, b in zip(counts, counts[1:])):
        yield f"loop.schedule: label counts must increase, got {counts}"
    elif counts[0] != loop.initial or counts[-1] != loop.budget:
        yield (f"loop.schedule: must run from loop.initial ({loop.initial}) to loop.budget "
               f"({loop.budget}), got {counts}")


def _class_problems(classes: list[str]) -> Iterator[str]:
    if len(classes) < 2:
        yield "classes: need at least 2 class names"
    for i, name in enumerate(classes):
        bad = [c for c in name if unicodedata.category(c) in BAD_CHARACTERS]
        if not name:
            yield f"classes[{i}]: a class name cannot be empty"
        elif bad:
            yield (f"classes[{i}]: {show(name)} holds the control character {ascii(bad[0])}; "
                   "a class name is one line of printable text")
        elif name != name.strip():
            yield f"classes[{i}]: {show(name)} has leading or trailing whitespace"
        elif len(name) > 200:
            yield f"classes[{i}]: a class name has {len(name)} characters, at most 200 allowed"
    repeated = [name for i, name in enumerate(classes) if name in classes[:i]]
    if repeated:
        yield f"classes: class names must be distinct, {show(repeated[0])} is repeated"


def _project_problems(project: ProjectConfig) -> Iterator[str]:
    name = project.name
    if not PROJECT_NAME.fullmatch(name):
        yield ("project.name: must be letters A-Z a-z, digits, '.', '_' or '-', starting "
               "with a letter or digit (it names files and model versions), got "
               f"{show(name)}")
    elif len(name) > 100:
        yield f"project.name: has {len(name)} characters, at most 100 allowed"


def _data_problems(data: DataConfig) -> Iterator[str]:
    if data.image_size is not None and not all(1 <= side <= 4096 for side in data.image_size):
        yield (f"data.image_size: each side must be 1 to 4096 pixels, got "
               f"{list(data.image_size)}")
    if data.channels not in (None, 1, 3):
        yield f"data.channels: must be 1 or 3, got {data.channels}"
    for key, limit in (("data.limit", data.limit), ("data.test_limit", data.test_limit)):
        if limit is not None and limit < 0:
            yield f"{key}: must be 0 or more (leave it out for every item), got {limit}"


def _model_problems(cfg: Config) -> Iterator[str]:
    size, old = cfg.model.input_size, cfg.data.image_size
    if size is not None and not all(8 <= side <= 4096 for side in size):
        yield f"model.input_size: each side must be 8 to 4096 pixels, got {list(size)}"
    elif size is not None and old is not None and tuple(size) != tuple(old):
        yield (f"data.image_size: {list(old)} differs from model.input_size {list(size)} "
               "(remove data.image_size, its older name)")
    model = cfg.model
    if model.train != "scratch" and not model.weights:
        yield (f"model.train: {model.train} starts from pretrained weights: set model.weights "
               "(a torchvision weights name or a weights file), or use train: scratch")
    if cfg.loop.initial_strategy != "random" and not model.weights:
        yield (f"loop.initial_strategy: {cfg.loop.initial_strategy} picks from a pretrained "
               "backbone's embeddings: set model.weights, or use random")
    if model.weights_sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", model.weights_sha256):
        yield (f"model.weights_sha256: 64 hex digits, got {show(model.weights_sha256)}")
    if model.weights_sha256 and not model.weights:
        yield "model.weights_sha256: set, but model.weights is empty"
    if not 0 <= model.head_hidden <= 65536:
        yield f"model.head_hidden: must be 0 to 65536, got {model.head_hidden}"


def _crop_problems(cfg: Config) -> Iterator[str]:
    """The random crops' [min, max] shares of the area: 0 < min <= max <= 1."""
    for key, crop, unset in (("training.random_crop", cfg.training.random_crop,
                              " (or leave it out)"),
                             ("pretrain.crop", cfg.pretrain.crop, "")):
        if crop is not None and not 0 < crop[0] <= crop[1] <= 1:
            yield f"{key}: [min, max] with 0 < min <= max <= 1, got {list(crop)}{unset}"


def _auto_problems(strategy: StrategyConfig) -> Iterator[str]:
    # auto chooses between two strategies; one of them being auto would choose nothing
    for key in ("auto_early", "auto_late"):
        if getattr(strategy, key) == AUTO_STRATEGY:
            yield (f"strategy.{key}: must name a strategy, got auto (auto picks between "
                   "strategy.auto_early and strategy.auto_late)")


def _combination_problems(cfg: Config) -> Iterator[str]:
    loop, quality, jobs = cfg.loop, cfg.quality, cfg.jobs
    if loop.budget < loop.initial:
        yield f"loop.budget: {loop.budget} is below loop.initial {loop.initial}"
    if quality.gold_rate > 0 and not quality.gold_file:
        yield "quality.gold_file: needed when quality.gold_rate is above 0"
    if jobs.heartbeat >= jobs.wait_for_worker:
        # a worker is seen as alive only through its heartbeats: one beat per wait or
        # fewer and a busy queue looks like a queue without workers
        yield (f"jobs.heartbeat: must be below jobs.wait_for_worker ({jobs.wait_for_worker} "
               f"seconds), got {jobs.heartbeat}")


# The keys that name a pluggable, and what the registries call that kind of thing.
NAMED_KEYS = {"strategy.name": "strategy", "model.name": "model", "data.source": "source"}
# known[SCORED]: the strategies that rank by a per-item score (Strategy.ranks_by_score),
# the only ones strategy.cost_weighted can weight.
SCORED = "strategy.cost_weighted"


def check_names(cfg: Config, known: Mapping[str, Collection[str]], source: str) -> None:
    """Raise ConfigError when strategy.name (with auto: strategy.auto_early and
    strategy.auto_late), model.name or data.source is not a registered name, or
    strategy.cost_weighted is set for a strategy not in known[SCORED] (with auto: judged
    by auto_late, auto's strategy for most of the labels).
    known: key (as in NAMED_KEYS, and SCORED) -> the registered names; keys it lacks are
    not checked."""
    for key, named_key, value in _named(cfg):
        names = known.get(named_key)
        if names is None or value in names:
            continue
        listed = [*names, AUTO_STRATEGY] if key == "strategy.name" else list(names)
        raise ConfigError(f"{source}: {key}: "
                          f"{UnknownNameError(NAMED_KEYS[named_key], value, listed)}")
    scored, s = known.get(SCORED), cfg.strategy
    judged, by = (s.auto_late, " (strategy.auto_late)") if s.name == AUTO_STRATEGY else \
        (s.name, "")
    if s.cost_weighted and scored is not None and judged not in scored:
        raise ConfigError(
            f"{source}: strategy.cost_weighted: {judged}{by} has no per-item "
            "informativeness score to divide by the expected seconds; use one of "
            f"{', '.join(sorted(scored))}, or set cost_weighted: false")


def _named(cfg: Config) -> list[tuple[str, str, str]]:
    """(key, its NAMED_KEYS entry, value) of each key naming a pluggable: with
    strategy.name auto, strategy.auto_early and auto_late in its place."""
    out = []
    for key in NAMED_KEYS:
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if key == "strategy.name" and value == AUTO_STRATEGY:
            out += [("strategy.auto_early", key, cfg.strategy.auto_early),
                    ("strategy.auto_late", key, cfg.strategy.auto_late)]
        else:
            out.append((key, key, value))
    return out


def _pool_weights_problems(model: ModelConfig) -> Iterator[str]:
    """model.weights: pool (the project's own pretrained weights, made by `activelearn
    pretrain` or the first cycle): no digest can be known before they are made."""
    if model.pool_weights and model.weights_sha256:
        yield ("model.weights_sha256: model.weights pool is made from the pool (its sha256 "
               "is in its pretrained/*.json); remove model.weights_sha256")
