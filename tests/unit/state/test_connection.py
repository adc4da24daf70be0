"""Opening the state: every way the file can be wrong is one StateError line naming it,
raised at once (no 30 s wait), and a damaged file is never read as partial data."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from activelearn.errors import StateError
from activelearn.kinds import Split
from activelearn.state import Store
from support.readonly import read_only


def make_state(path: Path, items: int = 50) -> None:
    with Store.open(path) as store:
        store.items.add((f"img{i}", i, None, Split.TRAIN.value) for i in range(items))
        store.labels.set([(f"img{i}", i % 3) for i in range(items)], "oracle", 0)


def one_line(err: pytest.ExceptionInfo, path: Path) -> str:
    text = str(err.value)
    assert len(text.splitlines()) == 1 and str(path) in text
    return text


def test_a_folder_where_the_state_file_should_be(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite").mkdir()
    for readonly in (False, True):
        with pytest.raises(StateError, match="not a file") as err:
            Store.open(tmp_path / "state.sqlite", readonly=readonly)
        one_line(err, tmp_path / "state.sqlite")


def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    db.commit()
    db.close()
    for readonly in (False, True):
        with pytest.raises(StateError, match="another program") as err:
            Store.open(path, readonly=readonly)
        one_line(err, path)
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["customers"]
    db.close()


@pytest.mark.parametrize("version, expected", [("abc", "not a number"),
                                               ("99", "state schema 99 is newer")])
def test_a_schema_version_this_activelearn_does_not_read(tmp_path, version, expected) -> None:
    path = tmp_path / "state.sqlite"
    make_state(path)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
    db.commit()
    db.close()
    with pytest.raises(StateError, match=expected) as err:
        Store.open(path)
    one_line(err, path)


def test_a_damaged_page_is_found_on_open_and_never_read_as_partial_data(tmp_path) -> None:
    path = tmp_path / "state.sqlite"
    make_state(path, items=3000)
    data = bytearray(path.read_bytes())
    assert len(data) > 40 * 4096
    for page in range(3, 12):  # whole pages (not the file header on page 1)
        data[page * 4096: (page + 1) * 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))
    for readonly in (False, True):
        with pytest.raises(StateError, match="damaged") as err:
            Store.open(path, readonly=readonly)
        one_line(err, path)


def test_a_file_that_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is a text file, not SQLite " * 200)
    with pytest.raises(StateError, match="damaged") as err:
        Store.open(path)
    one_line(err, path)


def test_a_read_only_work_dir_is_read_and_never_written(tmp_path: Path) -> None:
    work = tmp_path / "work"
    make_state(work / "state.sqlite")
    before = sorted(p.name for p in work.iterdir())
    with read_only(work):
        with Store.open(work / "state.sqlite", readonly=True) as store:
            assert len(store.labels.current()) == 50
        with pytest.raises(StateError, match="read-only|cannot be opened") as err, \
                Store.open(work / "state.sqlite") as store:
            store.labels.set([("img0", 2)], "oracle", 1)
        one_line(err, work / "state.sqlite")
    assert sorted(p.name for p in work.iterdir()) == before


def test_a_read_only_open_of_a_missing_state_does_not_create_it(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="no state here yet"):
        Store.open(tmp_path / "state.sqlite", readonly=True)
    assert not (tmp_path / "state.sqlite").exists()


def test_a_full_disk_while_writing_is_one_line(tmp_path: Path) -> None:
    """A real write past the file size limit (RLIMIT_FSIZE), as a full disk fails it."""
    path = tmp_path / "state.sqlite"
    make_state(path)
    code = textwrap.dedent(f"""
        import resource, signal
        from activelearn.state import Store
        store = Store({str(path)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
        try:
            store.items.add((f"new-{{k}}-" + "x" * 60, k, None, "train")
                            for k in range(100_000))
        except Exception as exc:
            print(type(exc).__name__ + ": " + str(exc))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.startswith(f"StateError: {path}: the disk is full"), done
    with Store.open(path, readonly=True) as store:  # the failed write left nothing
        assert store.items.count() == 50
