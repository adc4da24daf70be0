"""Hostile state files and backups: a state from a later release, garbage or a truncated
file where the state should be, a state missing a table, tampered or foreign backup
folders, upgrade and restore while a cycle holds the lock, backups to places that cannot
take one. Each: exit 1 or 2, at most two lines, no traceback, and nothing changed (every
file under the test's folder as it was, SQLite's -wal/-shm of a reader aside)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from activelearn.cli import main
from activelearn.loop.lock import CYCLE_LOCK, process_started
from activelearn.state import Store
from activelearn.state.backup import MANIFEST
from support.states import copy_demo_state


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def sql(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def current_state(work: Path) -> Path:
    path = work / "state.sqlite"
    with Store.open(path) as store:
        store.items.add([(f"img{i}", i, None, "train") for i in range(20)])
        store.labels.set([("img1", 3)], "oracle", 0)
    sql(path)  # checkpointed: the file alone holds it
    return path


def hold_lock(path: Path) -> None:
    """This live process holds the project's cycle lock (as a running cycle would)."""
    sql(path, f"INSERT INTO locks (name, owner, pid, host, acquired_at, heartbeat) VALUES "
              f"('{CYCLE_LOCK}', 'test', {os.getpid()}, '{socket.gethostname()}', 0, 0)")
    if process_started(os.getpid()) is not None:
        sql(path, f"UPDATE locks SET started={process_started(os.getpid())}")


def backup_of(tmp: Path, config: Path) -> Path:
    """A real backup of a current state (made with the CLI), in tmp/backup."""
    current_state(tmp / "work")
    result = CliRunner().invoke(main, ["backup", str(tmp / "backup"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    return tmp / "backup"


def _future(tmp, config):
    sql(current_state(tmp / "work"), "UPDATE meta SET value='99' WHERE key='schema_version'")


def _garbage(tmp, config):
    (tmp / "work").mkdir()
    (tmp / "work" / "state.sqlite").write_bytes(b"\x00garbage, not SQLite\n" * 500)


def _truncated(tmp, config):
    path = current_state(tmp / "work")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def _missing_table(tmp, config):
    sql(current_state(tmp / "work"), "DROP TABLE labels")


def _not_a_number(tmp, config):
    sql(current_state(tmp / "work"), "UPDATE meta SET value='2b' WHERE key='schema_version'")


def _old_locked(tmp, config):
    hold_lock(copy_demo_state(tmp / "work"))


def _locked(tmp, config):
    hold_lock(current_state(tmp / "work"))


def _tampered_manifest(tmp, config):
    folder = backup_of(tmp, config)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["state.sqlite"]["sha256"] = "0" * 64
    (folder / MANIFEST).write_text(json.dumps(manifest))


def _changed_byte(tmp, config):
    copy = backup_of(tmp, config) / "state.sqlite"
    data = bytearray(copy.read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))


def _escaping_manifest(tmp, config):
    folder = backup_of(tmp, config)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["state"] = "../work/state.sqlite"
    manifest["files"] = {"../work/state.sqlite": manifest["files"]["state.sqlite"]}
    (folder / MANIFEST).write_text(json.dumps(manifest))


def _list_manifest(tmp, config):
    (backup_of(tmp, config) / MANIFEST).write_text("[1, 2, 3]")


def _future_backup(tmp, config):
    folder = backup_of(tmp, config)
    sql(folder / "state.sqlite", "UPDATE meta SET value='7' WHERE key='schema_version'")
    from activelearn.state.backup import write_manifest

    write_manifest(folder, "state.sqlite", 7, [])


def _non_backup(tmp, config):
    current_state(tmp / "work")
    (tmp / "backup").mkdir()
    (tmp / "backup" / "notes.txt").write_text("holiday photos\n")


def _restore_locked(tmp, config):
    backup_of(tmp, config)
    hold_lock(tmp / "work" / "state.sqlite")


def _backup_and_state(tmp, config):
    backup_of(tmp, config)


def _old(tmp, config):
    copy_demo_state(tmp / "work")


def _full_folder(tmp, config):
    current_state(tmp / "work")
    (tmp / "backup").mkdir()
    (tmp / "backup" / "keep.txt").write_text("mine\n")


def _file_as_parent(tmp, config):
    current_state(tmp / "work")
    (tmp / "afile").write_text("a file, not a folder\n")


def _nothing(tmp, config):
    (tmp / "work").mkdir()


# case id -> (setup, command, the words the error line must hold)
CASES: dict[str, tuple[Callable, list[str], str]] = {
    "future-state-status": (_future, ["status"], "newer than this release"),
    "future-state-ingest": (_future, ["ingest", "--no-progress"], "newer than this release"),
    "future-state-upgrade": (_future, ["upgrade"], "newer than this release"),
    "garbage-state-upgrade": (_garbage, ["upgrade"], "damaged"),
    "garbage-state-backup": (_garbage, ["backup", "{tmp}/backup"], "damaged"),
    "truncated-state-status": (_truncated, ["status"], "state.sqlite"),
    "truncated-state-upgrade": (_truncated, ["upgrade"], "state.sqlite"),
    "missing-table-status": (_missing_table, ["status"], "labels are missing"),
    "missing-table-ingest": (_missing_table, ["ingest", "--no-progress"], "labels are missing"),
    "version-not-a-number": (_not_a_number, ["report"], "not a number"),
    "upgrade-while-locked": (_old_locked, ["upgrade"], "a cycle is running"),
    "backup-manifest-tampered": (_tampered_manifest, ["restore", "{tmp}/backup", "--force"],
                                 "does not match its checksum"),
    "backup-state-byte-changed": (_changed_byte, ["restore", "{tmp}/backup", "--force"],
                                  "does not match its checksum"),
    "backup-manifest-escapes": (_escaping_manifest, ["restore", "{tmp}/backup", "--force"],
                                "outside the backup"),
    "backup-manifest-a-list": (_list_manifest, ["restore", "{tmp}/backup", "--force"],
                               "not an activelearn backup manifest"),
    "backup-from-the-future": (_future_backup, ["restore", "{tmp}/backup", "--force"],
                               "newer than this release"),
    "restore-a-non-backup-folder": (_non_backup, ["restore", "{tmp}/backup", "--force"],
                                    "not a backup"),
    "restore-the-work-dir": (_locked, ["restore", "{tmp}/work", "--force"], "not a backup"),
    "restore-a-missing-folder": (_nothing, ["restore", "{tmp}/nowhere"], "no backup folder"),
    "restore-while-locked": (_restore_locked, ["restore", "{tmp}/backup", "--force"],
                             "a cycle is running"),
    "restore-over-a-state": (_backup_and_state, ["restore", "{tmp}/backup"],
                             "a state is here already"),
    "old-state-serve": (_old, ["serve", "--port", "1"], "run `activelearn upgrade --config"),
    "old-state-export": (_old, ["export", "--format", "csv", "--out", "{tmp}/out"],
                         "this release needs 2"),
    "backup-into-a-full-folder": (_full_folder, ["backup", "{tmp}/backup"], "not an empty"),
    "backup-under-a-file": (_file_as_parent, ["backup", "{tmp}/afile/b"], "cannot write"),
    "backup-without-a-state": (_nothing, ["backup", "{tmp}/backup"], "no state here"),
    "upgrade-without-a-state": (_nothing, ["upgrade"], "no state here"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_state_files_and_backups(case, tmp_path, project_file) -> None:
    setup, command, words = CASES[case]
    config = project_file(label_studio={"url": "http://127.0.0.1:9"})
    setup(tmp_path, config)
    before = files_of(tmp_path)
    args = [a.format(tmp=tmp_path) for a in command]
    result = CliRunner().invoke(main, [*args, "--config", str(config)])
    assert result.exit_code in (1, 2), result.output
    lines = result.output.splitlines()
    assert 1 <= len(lines) <= 2, result.output
    assert lines[0].startswith("error: ") and words in lines[0], result.output
    assert "Traceback" not in result.output and "a bug in activelearn" not in result.output
    assert files_of(tmp_path) == before
