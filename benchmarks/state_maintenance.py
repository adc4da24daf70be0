"""How long an upgrade and a backup of a large project's state take.

    .venv/bin/python benchmarks/state_maintenance.py [--items 100000] [--rounds 40] [--work DIR]

Builds a state through the Store's own methods (not timed): --items items, --rounds rounds
of 1,000 relabels each (label history) with five phases each, then turns it into a
schema-1 state (drops what schema 2 added, version 1) and VACUUMs it. Then times, in
this process: the online backup copy of the state (what `activelearn backup` copies
before the models), the upgrade a writer does on open (backup into backups/ and the
migration, one transaction), and an open of the upgraded state (its checks).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from activelearn.state import SCHEMA_VERSION, Store, copy_to


def build(path: Path, items: int, rounds: int) -> None:
    rng = random.Random(0)
    with Store.open(path) as store:
        store.items.add((f"img{i}", i, None, "train") for i in range(items))
        for round_ in range(rounds):
            store.labels.set([(f"img{rng.randrange(items)}", rng.randrange(10))
                              for _ in range(1000)], "oracle", round_)
            store.rounds.start(round_)
            for phase in ("pull", "train", "evaluate", "select", "push"):
                store.rounds.record_phase(round_, phase, "started")
                store.rounds.record_phase(round_, phase, "done")
    db = sqlite3.connect(path)  # as schema 1 left it
    db.executescript("DROP TABLE schema_history; DROP INDEX phases_round;"
                     " DROP INDEX label_history_item; DROP INDEX annotations_task;"
                     " UPDATE meta SET value='1' WHERE key='schema_version'; VACUUM;")
    db.close()


def timed(what: str, call) -> None:
    start = time.perf_counter()
    call()
    print(f"{what}: {time.perf_counter() - start:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="state-maintenance-"))
    shutil.rmtree(work, ignore_errors=True)
    path = work / "state.sqlite"
    build(path, args.items, args.rounds)
    print(f"schema-1 state: {args.items:,} items, {args.rounds * 1000:,} label-history rows, "
          f"{path.stat().st_size / 1e6:.1f} MB")
    timed("backup copy (online backup API + integrity_check)",
          lambda: copy_to(path, work / "copy.sqlite"))
    timed(f"upgrade on open (backup + migration to schema {SCHEMA_VERSION})",
          lambda: Store.open(path, announce=False).close())
    timed("open of the upgraded state", lambda: Store.open(path).close())
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
