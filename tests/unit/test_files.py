"""The one atomic writer: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activelearn.files import write_atomically, write_csv, write_text


def test_the_new_file_replaces_the_old_and_keeps_its_suffix(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "scores.npz"
    seen = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        np.savez(tmp, probs=np.ones(3))  # np.savez would append .npz to another suffix

    assert write_atomically(target, write) == target
    assert seen[0].parent == target.parent and seen[0].suffix == ".npz"
    assert np.load(target)["probs"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(p.name for p in target.parent.iterdir()) == ["scores.npz"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = write_text(tmp_path / "rounds.json", "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["rounds.json"]


def test_csv_rows_are_written_with_the_header_first(tmp_path: Path) -> None:
    name = write_csv(tmp_path / "a.csv", [["x", "y"], [1, "two, three"]])
    assert name == "a.csv"
    assert (tmp_path / "a.csv").read_text() == 'x,y\n1,"two, three"\n'
