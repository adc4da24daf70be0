"""Backups of the state: the copy is one commit's state even while another connection
writes; a backup folder is read back only when every checksum and the copy's integrity
verify; putting a copy in place never leaves the old WAL beside it."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from activelearn.errors import StateError
from activelearn.state import Store, copy_to, install, read_backup
from activelearn.state.backup import MANIFEST, write_manifest
from support.states import FIRST_SCHEMA_1, version_of


def _pairs(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (db.execute("SELECT COUNT(*) FROM gold").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    finally:
        db.close()


def test_a_copy_taken_while_another_connection_writes_is_one_commits_state(tmp_path) -> None:
    path = tmp_path / "work" / "state.sqlite"
    Store.open(path).close()
    stop = threading.Event()

    def hammer() -> None:  # each commit adds one item and its gold row
        db = sqlite3.connect(path, timeout=30)
        n = 0
        while not stop.is_set():
            with db:
                db.execute("INSERT INTO items VALUES (?, ?, NULL, 'train')", (f"i{n}", n))
                db.execute("INSERT INTO gold VALUES (?, 1, 0.0)", (f"i{n}",))
            n += 1
        db.close()

    writer = threading.Thread(target=hammer)
    writer.start()
    try:
        copies = []
        for k in range(8):
            target = tmp_path / f"copy{k}.sqlite"
            assert copy_to(path, target) == 2  # integrity_check passed inside
            copies.append(_pairs(target))
    finally:
        stop.set()
        writer.join()
    assert all(gold == items for gold, items in copies)
    assert copies[-1][0] > copies[0][0]  # the writer went on between the copies


def _backup(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "state.sqlite"
    with Store.open(path) as store:
        store.items.add([("a", 0, None, "train")])
    folder = tmp_path / "backup"
    folder.mkdir()
    copy_to(path, folder / "state.sqlite")
    (folder / "artifacts" / "models").mkdir(parents=True)
    (folder / "artifacts" / "models" / "m-r1.pt").write_bytes(b"weights")
    write_manifest(folder, "state.sqlite", 2, ["models/m-r1.pt"])
    return folder


def test_a_backup_reads_back_verified(tmp_path: Path) -> None:
    backup = read_backup(_backup(tmp_path))
    assert backup.schema_version == 2 and backup.artifacts == ("models/m-r1.pt",)
    assert backup.artifact_file("models/m-r1.pt").read_bytes() == b"weights"


@pytest.mark.parametrize("target", ["state.sqlite", "artifacts/models/m-r1.pt"])
def test_one_changed_byte_is_refused_by_its_checksum(tmp_path, target) -> None:
    folder = _backup(tmp_path)
    data = bytearray((folder / target).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / target).write_bytes(bytes(data))
    with pytest.raises(StateError, match=f"{target} does not match its checksum"):
        read_backup(folder)


def test_a_copy_with_a_matching_checksum_but_damaged_pages_is_refused(tmp_path) -> None:
    """The manifest rewritten to fit a damaged copy: integrity_check still refuses it."""
    folder = _backup(tmp_path)
    state = folder / "state.sqlite"
    data = bytearray(state.read_bytes())
    data[4096 * 2: 4096 * 3] = b"\xee" * 4096
    state.write_bytes(bytes(data))
    write_manifest(folder, "state.sqlite", 2, ["models/m-r1.pt"])
    with pytest.raises(StateError, match="damaged|not an activelearn state"):
        read_backup(folder)


def test_install_replaces_the_state_and_moves_its_wal_aside(tmp_path: Path) -> None:
    folder = _backup(tmp_path)
    live = tmp_path / "live" / "state.sqlite"
    with Store.open(live) as store:  # a live state with its -wal and -shm open
        store.items.add([(f"x{i}", i, None, "train") for i in range(50)])
        store.locks.try_take("cycle", "me", 1, "h", lambda h: False)
        install(folder / "state.sqlite", live, tmp_path / "aside")
    assert sorted(p.name for p in (tmp_path / "aside").iterdir())[0] == "state.sqlite"
    assert not live.with_name("state.sqlite-wal").exists()
    with Store.open(live) as store:
        assert set(store.items.splits()) == {"a"}
        assert store.locks.holder("cycle") is None
    assert version_of(live) == "2"


def test_install_puts_an_early_schema_1_copy_in_place(tmp_path: Path) -> None:
    # an upgrade's backup of a state from schema 1's first release: no locks table
    copy = tmp_path / "copy.sqlite"
    db = sqlite3.connect(copy)
    db.executescript(FIRST_SCHEMA_1)
    db.close()
    live = tmp_path / "live" / "state.sqlite"
    live.parent.mkdir()
    install(copy, live, None)
    assert copy.read_bytes() == live.read_bytes()


def test_a_manifest_naming_a_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = _backup(tmp_path)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["../../etc/passwd"] = {"sha256": "0" * 64}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(StateError, match="outside the backup"):
        read_backup(folder)
