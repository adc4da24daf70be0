"""Tests for activelearn.simulate.records: rounds.csv and rounds.json, written whole."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from activelearn import files
from activelearn.simulate import write_rounds
from support.records import MARGIN, RANDOM, curve


def test_rounds_round_trip_through_csv_and_json(tmp_path: Path):
    records = curve("random", RANDOM, train_s=1.5) + curve("margin", MARGIN, seed=1)
    records[0]["note"] = "warm start"  # an extra key only one record has
    csv_path, json_path = write_rounds(records, tmp_path / "out")

    assert json.loads(json_path.read_text()) == records
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == [
            "strategy", "seed", "round", "labels", "accuracy", "macro_f1", "train_s", "note",
        ]
        rows = list(reader)
    assert len(rows) == len(records)
    assert rows[0]["note"] == "warm start" and rows[1]["note"] == ""
    assert float(rows[5]["accuracy"]) == MARGIN[1][1]
    assert int(rows[5]["labels"]) == 2000 and rows[5]["train_s"] == ""


def test_rounds_are_replaced_whole_and_leave_no_temp_files(tmp_path: Path):
    write_rounds(curve("random", RANDOM), tmp_path)
    write_rounds(curve("random", RANDOM[:1]), tmp_path)
    assert len(json.loads((tmp_path / "rounds.json").read_text())) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rounds.csv", "rounds.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "rounds.csv").stat().st_mode) == 0o666 & ~umask


def test_an_interrupted_write_keeps_the_previous_file(tmp_path: Path, monkeypatch):
    write_rounds(curve("random", RANDOM), tmp_path)
    before = (tmp_path / "rounds.json").read_text()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # Ctrl-C after the new file is written but before it is in place
    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_rounds(curve("random", RANDOM[:1]), tmp_path)
    assert (tmp_path / "rounds.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rounds.csv", "rounds.json"]


def test_numpy_values_are_written_as_plain_json(tmp_path: Path):
    records = [{"strategy": "random", "seed": np.int64(0), "labels": np.int64(100),
                "accuracy": np.float32(0.5)}]
    _, json_path = write_rounds(records, tmp_path)
    assert json.loads(json_path.read_text()) == [
        {"strategy": "random", "seed": 0, "labels": 100, "accuracy": 0.5}
    ]
