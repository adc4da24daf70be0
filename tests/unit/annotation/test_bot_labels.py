"""The bot annotator's choices and settings, without a server (integration/test_bot.py
runs it against Label Studio)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from activelearn.annotation.bot import annotate_open_tasks, bot_label, class_seconds
from activelearn.cli import main
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


def test_class_seconds_reads_names_indices_and_a_default():
    assert class_seconds(["dog=12.5", "0=3"], CLASSES) == {1: 12.5, 0: 3.0}
    assert class_seconds(["Bird=7"], CLASSES, default=2) == {0: 2.0, 1: 2.0, 2: 7.0}
    assert class_seconds([], CLASSES) == {}  # nothing named, no default: no lead times
    # a name may itself hold "=": the seconds follow the last one
    assert class_seconds(["a=b=4"], ["a=b", "c"]) == {0: 4.0}


@pytest.mark.parametrize("specs, default, match", [
    (["cow=3"], None, "'cow' is not a class; give one of cat, dog, bird or an index 0..2"),
    (["3=1"], None, "'3' is not a class"),
    (["dog"], None, "give CLASS=SECONDS"),
    (["=4"], None, "give CLASS=SECONDS"),
    (["dog=fast"], None, "'fast' is not a number of seconds"),
    (["dog=-1"], None, "seconds must be a finite number >= 0, not -1"),
    (["dog=nan"], None, "finite"),
    ([], -2.0, "seconds_default: seconds must be a finite number >= 0"),
])
def test_bad_seconds_are_config_errors(specs, default, match):
    with pytest.raises(ConfigError, match=match):
        class_seconds(specs, CLASSES, default)


@pytest.mark.parametrize("args, says", [
    (["--seconds", "Sandal=fast"], "'fast' is not a number of seconds"),
    (["--seconds", "Unicorn=3"], "'Unicorn' is not a class"),
    (["--seconds", "Sandal=-3"], ">= 0, not -3"),
    (["--seconds-default", "-1"], "--seconds-default: seconds must be"),
])
def test_bad_seconds_on_the_command_line_are_one_usage_error(project_file, args, says):
    # an unreachable server: the check comes first, before any connection
    path = project_file(label_studio={"url": "http://127.0.0.1:9"})
    result = CliRunner().invoke(main, ["bot", "--config", str(path), *args])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --seconds") and says in line and "--help" in line
