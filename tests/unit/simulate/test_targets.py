"""Tests for activelearn.simulate.targets: targets given or as fractions of the full-data
value, and targets.json."""

from __future__ import annotations

import pytest

from activelearn.errors import ActiveLearnError
from activelearn.simulate import Target, TargetSpec, read_targets, write_targets


def test_a_fraction_without_a_full_data_value_is_refused():
    spec = TargetSpec("accuracy", (), (0.97,))
    assert spec.needs_full_data
    with pytest.raises(ActiveLearnError, match="full-data"):
        spec.resolve()
    given = TargetSpec("accuracy", (), (0.5,), full_data=0.9)
    assert not given.needs_full_data and given.resolve()[0].value == pytest.approx(0.45)


def test_targets_round_trip_through_targets_json_and_go_when_there_are_none(tmp_path):
    goals = [Target("accuracy", 0.9), Target("accuracy", 0.88, "0.97 × full-data ...")]
    write_targets(tmp_path, goals, ["full-data accuracy 0.907 (cached from f.json)"])
    assert read_targets(tmp_path) == (goals, ["full-data accuracy 0.907 (cached from f.json)"])
    assert read_targets(tmp_path / "rounds.json")[0] == goals  # the records' file works too
    write_targets(tmp_path, [])
    assert read_targets(tmp_path) == ([], [])
    (tmp_path / "targets.json").write_text("{broken")
    with pytest.raises(ActiveLearnError, match="not a simulate targets.json"):
        read_targets(tmp_path)
