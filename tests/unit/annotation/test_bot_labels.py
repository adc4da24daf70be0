"""The bot annotator's choices and settings, without a server (integration/test_bot.py
runs it against Label Studio)."""

from __future__ import annotations

import pytest

from activelearn.annotation.bot import annotate_open_tasks, bot_label
from activelearn.errors import ConfigError

CLASSES = ["cat", "dog", "bird"]


def test_wrong_answers_are_seeded_and_never_the_truth():
    items = [f"i{k}" for k in range(3000)]
    labels = [bot_label(4, 10, 0.7, seed=1, annotator=2, item_id=i) for i in items]
    assert labels == [bot_label(4, 10, 0.7, seed=1, annotator=2, item_id=i) for i in items]
    wrong = [label for label in labels if label != 4]
    assert 0.26 < len(wrong) / len(items) < 0.34
    assert set(wrong) == set(range(10)) - {4}  # every other class, uniformly
    other_seed = [bot_label(4, 10, 0.7, seed=2, annotator=2, item_id=i) for i in items]
    assert other_seed != labels


@pytest.mark.parametrize("accuracies, classes, match", [
    ([], CLASSES, "at least one"),
    ([1.2], CLASSES, "accuracy 1.2 is not between 0 and 1"),
    ([0.9], ["only"], "needs another class"),
])
def test_bad_annotator_settings_are_config_errors(accuracies, classes, match):
    with pytest.raises(ConfigError, match=match):
        annotate_open_tasks(None, 1, {}, classes, accuracies)  # type: ignore[arg-type]
