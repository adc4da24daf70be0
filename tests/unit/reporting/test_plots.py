"""Figures with names from data: class and annotator names holding mathtext characters
are drawn as typed, never as a formula or a crash."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from matplotlib.text import Text

from activelearn.quality.agreement import Agreement, AnnotatorAgreement
from activelearn.quality.throughput import AnnotatorWork, Throughput
from activelearn.reporting import plots

PNG = b"\x89PNG\r\n\x1a\n"
# "$x^$" is a mathtext error, "a$b$c" a formula; the others are mathtext's own characters
NAMES = ["$x^$", "a$b$c", "back\\slash $", "\\$", "under_score", "_leading", "{brace}",
         "two\nlines", "$", "100% ^ {x}_2"]


def assert_png(path: Path) -> None:
    assert path.read_bytes().startswith(PNG)


@pytest.mark.parametrize("name", NAMES)
def test_literal_text_is_shown_as_typed(name) -> None:
    # what matplotlib draws from a string: (the text, whether it is mathtext)
    shown, is_math = Text()._preprocess_math(plots.literal(name))
    assert not is_math
    assert shown.lstrip("\u200b") == name


def test_confusion_with_mathtext_class_names(tmp_path) -> None:
    n = len(NAMES)
    matrix = [[3 if i == j else 1 for j in range(n)] for i in range(n)]
    path = plots.confusion(NAMES, matrix, "confusion matrix on $plit_{x}", tmp_path / "c.png")
    assert_png(path)


def test_per_class_f1_with_mathtext_class_and_split_names(tmp_path) -> None:
    f1 = {"train": [0.5] * len(NAMES), "$x^$": [0.25] * len(NAMES)}
    assert_png(plots.per_class_f1(NAMES, f1, tmp_path / "f1.png"))


def test_agreement_bars_with_mathtext_annotator_names(tmp_path) -> None:
    people = [AnnotatorAgreement(name, 4, 4, k % 5) for k, name in enumerate(NAMES)]
    found = Agreement(items=8, unanimous=3, ties=1, annotators=people)
    assert_png(plots.agreement_bars(found, tmp_path / "agreement.png"))


def test_hourly_with_mathtext_annotator_names(tmp_path) -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    hours = [start + timedelta(hours=h) for h in range(3)]
    hourly = {(hour, name): 2 for hour in hours for name in NAMES}
    work = Throughput(total=2 * len(hourly), hourly=hourly, hours=hours, per_hour=2.0,
                      per_active_hour=2.0,
                      annotators=[AnnotatorWork(name, 6, None) for name in NAMES])
    assert_png(plots.hourly(work, tmp_path / "hourly.png"))


def test_learning_curve_with_a_mathtext_split_name(tmp_path) -> None:
    curve = ([10, 20], [0.5, 0.6], [0.4, 0.5])
    assert_png(plots.learning_curve({"$x^$": curve, "holdout": curve}, tmp_path / "lc.png"))
