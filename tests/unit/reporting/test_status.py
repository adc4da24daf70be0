"""`activelearn status` from a hand-made state (no servers): the quality work counts."""

from __future__ import annotations

import json

from click.testing import CliRunner

from activelearn.cli import main
from activelearn.config import load_config
from activelearn.kinds import Split
from activelearn.state import Store


def test_status_counts_reviews_and_relabel_requests(project_file):
    path = project_file()
    cfg = load_config(path)
    with Store.open(cfg.work_dir / "state.sqlite") as store:
        store.items.add([(f"img{i}", i, None, Split.TRAIN.value) for i in range(6)])
        store.labels.set([("img0", 1), ("img1", 2), ("img2", 3)], "label-studio", 1)
        # three items sent to review in round 1: two pushed, one still selected
        store.reviews.add_candidates(1, [("img0", 1, 4, 0.9, 0.95), ("img1", 2, 5, 0.8, 0.9),
                                        ("img2", 3, 6, 0.7, 0.85)])
        store.reviews.record_tasks(1, {"img0": 100, "img1": 101})
        store.relabels.add(1, [("img3", 13, 2, 3), ("img4", 14, 2, 3)])
        store.relabels.mark_applied(1, ["img3"])
    result = CliRunner().invoke(main, ["status", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["review"] == {"tasks": 3, "selected": 1, "pushed": 2, "done": 0,
                                "changed": 0}
    assert status["relabel"] == {"requests": 2, "raised": 1}
    human = CliRunner().invoke(main, ["status", "--config", str(path)]).output
    assert "label-error review: 3 items sent (2 waiting, 0 answered, 0 labels changed)" in human
    assert "another annotation asked for 2 disputed items (1 raised in Label Studio)" in human


def test_status_of_a_project_without_state(project_file):
    result = CliRunner().invoke(main, ["status", "--config", str(project_file()), "--json"])
    assert result.exit_code == 0
    status = json.loads(result.output)
    assert status["round"] is None and status["review"] is None and status["labels"] == {
        "train": 0, "holdout": 0}
    assert not (load_config(project_file()).work_dir / "state.sqlite").exists()
