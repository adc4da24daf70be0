"""`activelearn clean`: find duplicate and near-duplicate images in the pool and between the
pool and the evaluation splits (leakage), group them, record the groups in state and
write WORK_DIR/clean/duplicates.csv and skipped.csv.

Only a group's representative can be selected (see `selectable_positions`); pool items of
a group that holds an evaluation item are never selected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from activelearn.config import CleaningConfig, SplitsConfig
from activelearn.data import duplicates
from activelearn.data.imageset import as_tensor
from activelearn.data.photo_duplicates import find_file_pairs
from activelearn.data.sources.base import Pool
from activelearn.data.splits import assign_splits
from activelearn.kinds import Split
from activelearn.loop.clean_files import write_duplicate_csvs
from activelearn.state import Store
from activelearn.state.duplicates import CLEANED_META, DUPLICATE_SOURCE


@dataclass(frozen=True)
class CleanSummary:
    """What a clean found."""

    items: int
    groups: int
    grouped_items: int
    exact_pairs: int
    near_pairs: int
    leakage_pairs: int
    skipped: int
    seconds: float

    def lines(self) -> list[str]:
        return [
            f"checked {self.items} items in {self.seconds:.1f} s",
            f"duplicate groups: {self.groups} ({self.grouped_items} items in groups)",
            f"pairs: {self.exact_pairs} exact, {self.near_pairs} near-duplicate",
            f"leakage: {self.leakage_pairs} pairs of a pool item with a holdout/validation/"
            "test item (those pool items are never selected)",
            f"skipped (unreadable or unusable) images: {self.skipped}",
        ]


def run_clean(pool: Pool, store: Store, cfg: CleaningConfig, out_dir: Path) -> CleanSummary:
    """Detect duplicates over the whole pool (items must be in the store), record the
    groups and write the CSV files into out_dir."""
    start = time.perf_counter()
    if pool.hashes is not None:  # a file pool: hashes from the catalogue
        pairs = find_file_pairs(pool.images, pool.hashes, cfg.near_threshold)
    else:
        pairs = duplicates.find_pairs(as_tensor(pool.images), cfg.near_threshold)
    splits = store.items.splits()
    ids = pool.item_ids
    found = []
    for members in duplicates.groups(len(pool), pairs):
        in_pool = [i for i in members if splits.get(ids[i]) == Split.TRAIN.value]
        rep = (in_pool or members)[0]
        found.append((ids[rep], members))
    kinds: dict[int, set[str]] = {}
    group_of = {i: g for g, (_, members) in enumerate(found) for i in members}
    for p in pairs:
        kinds.setdefault(group_of[p.first], set()).add(p.kind)
    rows = [(rep, "mixed" if len(kinds[g]) > 1 else next(iter(kinds[g])),
             [ids[i] for i in members]) for g, (rep, members) in enumerate(found)]
    store.duplicates.replace(
        [(ids[p.first], ids[p.second], p.kind, p.similarity) for p in pairs], rows,
        [(s.item_id, s.path, s.reason) for s in pool.skipped])
    store.meta.set(CLEANED_META, str(len(pool)))
    write_duplicate_csvs(out_dir, store.duplicates.groups(), store.duplicates.skipped())
    counts = store.duplicates.pair_counts()
    return CleanSummary(len(pool), len(rows), sum(len(m) for _, _, m in rows),
                        counts.get("exact", 0), counts.get("near", 0), counts["leakage"],
                        len(pool.skipped), time.perf_counter() - start)


def record_items(store: Store, pool: Pool, splits_cfg: SplitsConfig, seed: int) -> None:
    """Record the pool's items as `cycle` does: splits drawn on the first ingest, new
    items later join the pool (train)."""
    if store.items.count() == 0:
        splits = assign_splits(pool.labels, pool.is_test, splits_cfg, seed)
    else:
        splits = np.full(len(pool), Split.TRAIN.value, dtype=object)
    store.items.add((item_id, i, pool.paths[i] if pool.paths else None, str(splits[i]))
                    for i, item_id in enumerate(pool.item_ids))


def needs_clean(store: Store, pool: Pool) -> bool:
    """True before the first clean and whenever the pool has grown since."""
    return store.meta.get(CLEANED_META) != str(len(pool))


def selectable_positions(store: Store, item_ids: list[str],
                         also_taken: set[str] | None = None) -> np.ndarray:
    """Pool positions that may still be selected: train split, never batched, labelled or
    tasked, not in also_taken, and not kept out by a duplicate group (only
    representatives; no leakage)."""
    taken = store.batches.batched_ids() | set(store.labels.current())
    taken |= set(store.tasks.by_item(include_deleted=True))
    taken |= store.duplicates.blocked() | (also_taken or set())
    splits = store.items.splits()
    return np.array([i for i, item_id in enumerate(item_ids)
                     if splits.get(item_id) == Split.TRAIN.value and item_id not in taken],
                    dtype=np.int64)


def propagate_labels(store: Store, round_: int) -> int:
    """Copy each representative's label to its group's pool members (source
    "duplicate-of:<representative>"). Returns the labels written."""
    by_rep: dict[str, list[tuple[str, int]]] = {}
    for rep, member, label in store.duplicates.propagation_targets():
        by_rep.setdefault(rep, []).append((member, label))
    return sum(store.labels.set(rows, f"{DUPLICATE_SOURCE}{rep}", round_)
               for rep, rows in by_rep.items())
