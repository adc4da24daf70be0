"""The numbered migrations: every state of schema 1 (the first release's 9 tables, the last
release's real demo state) reaches exactly the layout of a new state, rows unchanged;
each step does what it says; an upgrade is one transaction (a failure anywhere leaves
the old version, and running again finishes); readers never upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from activelearn.errors import OutdatedStateError, StateError
from activelearn.state import MIGRATIONS, SCHEMA_VERSION, Store, read_backup
from activelearn.state import migrations as migrations_module
from activelearn.state.migrations import MIGRATED, pending, upgrade
from support.states import (
    copy_demo_state,
    first_schema_1,
    rows_of,
    schema_of,
    version_of,
)


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    path = tmp_path / "fresh" / "state.sqlite"
    Store.open(path).close()
    return path


def test_a_new_state_is_made_at_the_latest_version_and_says_so(fresh: Path) -> None:
    assert version_of(fresh) == str(SCHEMA_VERSION)
    with Store.open(fresh) as store:
        assert store.upgraded is None
        assert [r[:2] for r in migrations_module.history(store.db)] == [
            (SCHEMA_VERSION, f"a new state at schema {SCHEMA_VERSION}")]


def test_the_steps_are_numbered_in_order_up_to_the_schema_version() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == list(range(2, SCHEMA_VERSION + 1))
    assert all(m.description and "\n" not in m.description for m in MIGRATIONS)
    assert pending(1) == list(MIGRATIONS) and pending(SCHEMA_VERSION) == []


def test_the_previous_releases_demo_state_migrates_to_the_new_layout(tmp_path, fresh) -> None:
    path = copy_demo_state(tmp_path / "work")
    before = rows_of(path)
    assert version_of(path) == "1" and len(before["labels"]) == 210
    with Store.open(path) as store:
        assert store.upgraded is not None and store.upgraded.found == 1
        assert [m.version for m in store.upgraded.steps] == [2]
    assert version_of(path) == str(SCHEMA_VERSION)
    assert schema_of(path) == schema_of(fresh)
    assert rows_of(path) == before  # row for row: labels, history, rounds, tasks, ...


def test_the_first_schema_1_state_gets_every_later_table_and_column(tmp_path, fresh) -> None:
    path = first_schema_1(tmp_path / "state.sqlite")
    tables = ("items", "labels", "label_history", "rounds", "phases", "meta")
    before = rows_of(path, tables)
    with Store.open(path) as store:
        assert store.labels.current() == {"img0": 3, "img2": 1}
        assert store.labels.history("img0") == [(2, None, "oracle", 0), (3, 2, "oracle", 1)]
        assert store.tasks.by_item() == {}
    assert schema_of(path) == schema_of(fresh)
    assert rows_of(path, tables) == before


def test_a_state_that_never_recorded_its_version_is_taken_as_schema_1(tmp_path, fresh) -> None:
    """An early release that died between making the tables and writing the version."""
    path = first_schema_1(tmp_path / "state.sqlite")
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key='schema_version'")
    db.commit()
    db.close()
    Store.open(path).close()
    assert version_of(path) == str(SCHEMA_VERSION) and schema_of(path) == schema_of(fresh)


def _plan(path: Path, query: str, args: tuple) -> str:
    db = sqlite3.connect(path)
    try:
        return " ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {query}", args))
    finally:
        db.close()


# the lookups step 2 indexes, each as a query of the state package does it
LOOKUPS = [
    ("phases_round", "SELECT phase, status, detail FROM phases WHERE round=? ORDER BY rowid",
     (1,)),
    ("label_history_item", "SELECT label, previous, source, round FROM label_history"
     " WHERE item_id=? ORDER BY id", ("img0",)),
    ("annotations_task", "SELECT annotation_id, updated_at, round FROM annotations"
     " WHERE task_id IN (?, ?)", (1, 2)),
]


@pytest.mark.parametrize("index, query, args", LOOKUPS, ids=[i for i, _, _ in LOOKUPS])
def test_step_2_indexes_the_lookups_that_scanned_whole_tables(tmp_path, index, query,
                                                              args) -> None:
    path = copy_demo_state(tmp_path / "work")
    assert index not in _plan(path, query, args)  # schema 1: a scan
    Store.open(path).close()
    assert f"USING INDEX {index}" in _plan(path, query, args)


def test_step_2_records_itself_in_the_schema_history(tmp_path: Path) -> None:
    path = copy_demo_state(tmp_path / "work")
    with Store.open(path) as store:
        (version, description, applied_at, release), = migrations_module.history(store.db)
    assert (version, description) == (2, MIGRATIONS[0].description)
    assert applied_at > 0 and release


def test_step_2_adds_schema_1s_late_columns_with_null_in_old_rows(tmp_path: Path) -> None:
    path = copy_demo_state(tmp_path / "work")
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE tasks DROP COLUMN is_open")  # as before that column came
    db.execute("ALTER TABLE locks DROP COLUMN started")
    db.commit()
    db.close()
    with Store.open(path) as store:
        assert store.db.execute("SELECT COUNT(*), COUNT(is_open) FROM tasks").fetchone() == \
            (260, 0)
        assert "started" in migrations_module.columns(store.db, "locks")


def test_a_failure_before_the_commit_leaves_the_old_version_and_a_rerun_finishes(
        tmp_path, fresh, monkeypatch) -> None:
    path = copy_demo_state(tmp_path / "work")
    before = schema_of(path)

    def crash(name: str) -> None:
        if name == MIGRATED:
            raise RuntimeError("power cut")

    monkeypatch.setattr(migrations_module, "failpoint", crash)
    with pytest.raises(RuntimeError):
        Store.open(path)
    assert version_of(path) == "1" and schema_of(path) == before
    monkeypatch.undo()
    Store.open(path).close()
    assert schema_of(path) == schema_of(fresh)


def test_two_upgrades_at_once_upgrade_once(tmp_path: Path) -> None:
    path = copy_demo_state(tmp_path / "work")
    first, second = sqlite3.connect(path), sqlite3.connect(path)
    assert [m.version for m in upgrade(first)] == [2]
    assert upgrade(second) == []  # the version is read again inside the transaction
    first.close()
    second.close()


def test_a_reader_refuses_an_old_state_and_changes_nothing(tmp_path: Path) -> None:
    path = copy_demo_state(tmp_path / "work")
    data = path.read_bytes()
    with pytest.raises(OutdatedStateError, match=r"is schema 1, this release needs 2: run "
                                                 r"`activelearn upgrade`") as err:
        Store.open(path, readonly=True)
    assert len(str(err.value).splitlines()) == 1
    assert path.read_bytes() == data
    # nothing but SQLite's own shared-memory files of a reader: no backup, no copy
    assert {p.name for p in path.parent.iterdir()} <= {"state.sqlite", "state.sqlite-wal",
                                                       "state.sqlite-shm"}
    assert version_of(path) == "1"


def test_a_writer_backs_the_old_state_up_before_upgrading_it(tmp_path: Path) -> None:
    path = copy_demo_state(tmp_path / "work")
    before = rows_of(path)
    with Store.open(path) as store:
        taken = store.upgraded.backup
    backup = read_backup(taken.folder)  # verified: checksums and integrity
    assert taken.folder.parent == path.parent / "backups"
    assert backup.schema_version == 1 and version_of(backup.state_file) == "1"
    assert rows_of(backup.state_file) == before


def test_a_current_state_missing_a_table_or_column_is_refused(tmp_path, fresh) -> None:
    for change, expected in [("DROP TABLE gold", "table.* gold"),
                             ("ALTER TABLE rounds DROP COLUMN error", "rounds.error")]:
        path = tmp_path / change.split()[2] / "state.sqlite"
        path.parent.mkdir()
        path.write_bytes(fresh.read_bytes())
        db = sqlite3.connect(path)
        db.execute(change)
        db.commit()
        db.close()
        for readonly in (False, True):
            with pytest.raises(StateError, match=expected):
                Store.open(path, readonly=readonly)
