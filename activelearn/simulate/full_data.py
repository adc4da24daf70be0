"""The full-data reference of `simulate --target-fraction`: the accuracy of the same model
and training recipe trained on every train item of the pool (the splits simulate uses)
and evaluated on the same test split. Measured once and cached as
WORK_DIR/full_data/<digest>.json, the digest taken over what determines it: the data
section, the classes, the model section, the training recipe (not device or threads),
the splits, project.seed, the imbalance ratio and the pool's items themselves."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from activelearn.config import Config
from activelearn.data.sources.base import Pool
from activelearn.errors import ActiveLearnError
from activelearn.files import write_text
from activelearn.kinds import Split
from activelearn.learn.checkpoints import resolve_device
from activelearn.learn.fit import normalizer
from activelearn.simulate.training import train_and_evaluate

log = logging.getLogger("activelearn.simulate")

# the training keys that change where or how fast a model trains, not what it learns
_NOT_RECIPE = ("device", "threads")


@dataclass(frozen=True)
class FullData:
    """The full-data reference: test accuracy and macro-F1 of a model trained on `labels`
    train items in `seconds`; `path` the cache file, `cached` whether it was read from it
    (else measured now)."""

    accuracy: float
    macro_f1: float
    seconds: float
    labels: int
    digest: str
    path: Path
    cached: bool

    def describe(self) -> str:
        """e.g. "full-data accuracy 0.912, macro-F1 0.910 (cached from FILE)"."""
        how = f"cached from {self.path}" if self.cached else \
            f"measured in {self.seconds:.0f} s on {self.labels} labels, saved to {self.path}"
        return f"full-data accuracy {self.accuracy:.3f}, macro-F1 {self.macro_f1:.3f} ({how})"

    def value(self, metric: str) -> float:
        """The reference value of `metric` (accuracy or macro_f1)."""
        return self.accuracy if metric == "accuracy" else self.macro_f1


def full_data_digest(cfg: Config, pool: Pool, splits: np.ndarray, imbalance: float) -> str:
    """16 hex digits over what determines the full-data result (see the module's
    docstring). splits: [items] Split values of the pool."""
    training = {k: v for k, v in dataclasses.asdict(cfg.training).items()
                if k not in _NOT_RECIPE}
    data = {k: v for k, v in dataclasses.asdict(cfg.data).items()
            if k not in ("download", "cache")}
    items = hashlib.sha256()
    for item_id, label, split in zip(pool.item_ids, pool.labels.tolist(), splits.tolist()):
        items.update(f"{item_id}\t{label}\t{split}\n".encode())
    parts = {"data": data, "classes": list(cfg.classes), "model": dataclasses.asdict(cfg.model),
             "training": training, "splits": dataclasses.asdict(cfg.splits),
             "seed": cfg.project.seed, "imbalance": float(imbalance),
             "items": items.hexdigest()}
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def full_data(cfg: Config, pool: Pool, splits: np.ndarray, imbalance: float = 1.0,
              progress: bool = False) -> FullData:
    """The cached full-data result for this recipe and pool, else measured now (training
    on every train-split item, seeded by project.seed) and cached. pool: as simulate
    trains on it (head mode: its embeddings); splits: [items] its Split values."""
    digest = full_data_digest(cfg, pool, splits, imbalance)
    path = cfg.work_dir / "full_data" / f"{digest}.json"
    found = _read(path, digest)
    if found is not None:
        return found
    train_idx = np.flatnonzero(splits == Split.TRAIN.value)
    if not len(train_idx) or not (splits == Split.TEST.value).any():
        raise ActiveLearnError(
            f"full-data accuracy: the pool has {len(train_idx)} train and "
            f"{int((splits == Split.TEST.value).sum())} test items; both are needed")
    start = time.perf_counter()
    trained = train_and_evaluate(cfg, pool, splits, normalizer(cfg.model, pool.images),
                                 train_idx, cfg.project.seed,
                                 resolve_device(cfg.training.device), progress)
    assert trained.test is not None  # there are test items
    result = FullData(trained.test.accuracy, trained.test.macro_f1,
                      round(time.perf_counter() - start, 3), int(len(train_idx)), digest,
                      path, cached=False)
    write_text(path, json.dumps(_as_json(result), indent=1) + "\n")
    log.info("full-data reference %s: accuracy %.4f", digest, result.accuracy)
    return result


def _as_json(result: FullData) -> dict[str, Any]:
    return {"accuracy": result.accuracy, "macro_f1": result.macro_f1,
            "seconds": result.seconds, "labels": result.labels,
            "config_digest": result.digest}


def _read(path: Path, digest: str) -> FullData | None:
    """The cached result at path, None when there is none (or it is unreadable, then
    measured again)."""
    try:
        raw = json.loads(path.read_text())
        return FullData(float(raw["accuracy"]), float(raw["macro_f1"]),
                        float(raw["seconds"]), int(raw["labels"]), digest, path,
                        cached=True)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the unreadable full-data cache %s (%s): measuring again",
                    path, exc)
        return None
