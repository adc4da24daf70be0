"""What types cannot say about a project file: ranges, combinations of keys, and the
names of pluggables (strategies, models, sources) against their registries."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from activelearn.config.schema import Config
from activelearn.errors import ConfigError, UnknownNameError


def check_semantics(cfg: Config, source: str) -> None:
    """Raise ConfigError (one line: source, key path, the problem) for the first value
    out of range or combination of keys that cannot work."""
    problems = []
    if len(cfg.classes) < 2:
        problems.append("classes: need at least 2 class names")
    if len(set(cfg.classes)) != len(cfg.classes):
        problems.append("classes: class names must be distinct")
    ls, jobs = cfg.label_studio, cfg.jobs
    for key, value in [
        ("loop.initial", cfg.loop.initial), ("loop.batch", cfg.loop.batch),
        ("loop.budget", cfg.loop.budget), ("training.batch_size", cfg.training.batch_size),
        ("training.epochs", cfg.training.epochs), ("strategy.mc_passes", cfg.strategy.mc_passes),
        ("loop.min_new_labels", cfg.loop.min_new_labels), ("training.lr", cfg.training.lr),
        ("label_studio.import_chunk", ls.import_chunk),
        ("label_studio.parallel_requests", ls.parallel_requests),
        ("jobs.shard_size", jobs.shard_size), ("jobs.train_timeout", jobs.train_timeout),
        ("jobs.score_timeout", jobs.score_timeout),
        ("jobs.select_timeout", jobs.select_timeout),
        ("jobs.wait_for_worker", jobs.wait_for_worker), ("jobs.heartbeat", jobs.heartbeat),
    ]:
        if value <= 0:
            problems.append(f"{key}: must be positive, got {value}")
    for key, frac in [("splits.test_fraction", cfg.splits.test_fraction),
                      ("splits.validation_fraction", cfg.splits.validation_fraction)]:
        if not 0 <= frac < 1:
            problems.append(f"{key}: must be in [0, 1), got {frac}")
    if cfg.loop.budget < cfg.loop.initial:
        problems.append(f"loop.budget: {cfg.loop.budget} is below loop.initial {cfg.loop.initial}")
    if cfg.loop.min_queued < 0:
        problems.append(f"loop.min_queued: must be 0 or more, got {cfg.loop.min_queued}")
    if cfg.data.channels not in (None, 1, 3):
        problems.append(f"data.channels: must be 1 or 3, got {cfg.data.channels}")
    if ls.holdout < 0:
        problems.append(f"label_studio.holdout: must be 0 or more, got {ls.holdout}")
    if ls.overlap < 1 or ls.holdout_overlap < 1:
        problems.append(f"label_studio.overlap / holdout_overlap: must be 1 or more, got "
                        f"{ls.overlap} / {ls.holdout_overlap}")
    if not 0 <= ls.overlap_fraction <= 1:
        problems.append(f"label_studio.overlap_fraction: must be in [0, 1], got "
                        f"{ls.overlap_fraction}")
    if not 0 <= cfg.quality.gold_rate < 1:
        problems.append(f"quality.gold_rate: must be in [0, 1), got {cfg.quality.gold_rate}")
    if not 0 <= cfg.quality.relabel_fraction < 1:
        problems.append("quality.relabel_fraction: must be in [0, 1), got "
                        f"{cfg.quality.relabel_fraction}")
    if cfg.quality.relabel_max_annotations < 2:
        problems.append("quality.relabel_max_annotations: must be 2 or more, got "
                        f"{cfg.quality.relabel_max_annotations}")
    if cfg.quality.review_per_round < 0:
        problems.append("quality.review_per_round: must be 0 (off) or more, got "
                        f"{cfg.quality.review_per_round}")
    if cfg.quality.review_folds < 2:
        problems.append(f"quality.review_folds: must be 2 or more, got "
                        f"{cfg.quality.review_folds}")
    if not 0 <= cfg.quality.review_min_confidence <= 1:
        problems.append("quality.review_min_confidence: must be in [0, 1], got "
                        f"{cfg.quality.review_min_confidence}")
    if cfg.quality.gold_rate > 0 and not cfg.quality.gold_file:
        problems.append("quality.gold_file: needed when quality.gold_rate is above 0")
    if ls.image_mode == "url-template" and not ls.url_template:
        problems.append("label_studio.url_template: needed when image_mode is url-template")
    if ls.image_mode == "local-files" and not ls.document_root:
        problems.append("label_studio.document_root: needed when image_mode is local-files")
    if jobs.retries < 0:
        problems.append(f"jobs.retries: must be 0 or more, got {jobs.retries}")
    if jobs.gpu_queue == "" or jobs.cpu_queue == "":
        problems.append("jobs.gpu_queue / jobs.cpu_queue: a queue needs a name")
    if not 0 < cfg.cleaning.near_threshold <= 1:
        problems.append("cleaning.near_threshold: must be in (0, 1], got "
                        f"{cfg.cleaning.near_threshold}")
    if problems:
        raise ConfigError(f"{source}: {problems[0]}")


# The keys that name a pluggable, and what the registries call that kind of thing.
NAMED_KEYS = {"strategy.name": "strategy", "model.name": "model", "data.source": "source"}


def check_names(cfg: Config, known: Mapping[str, Collection[str]], source: str) -> None:
    """Raise ConfigError when strategy.name, model.name or data.source is not a registered
    name. known: key (as in NAMED_KEYS) -> the registered names; keys it lacks are not
    checked."""
    for key, kind in NAMED_KEYS.items():
        if key not in known:
            continue
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in known[key]:
            raise ConfigError(f"{source}: {key}: "
                              f"{UnknownNameError(kind, value, list(known[key]))}")
