"""A hand-built project state and simulate run for the report's tests."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from activelearn.config import FASHION_MNIST_CLASSES
from activelearn.kinds import RoundStatus, Split
from activelearn.learn.metrics import compute_metrics
from activelearn.simulate import write_rounds
from activelearn.state import AnnotationRow, PulledReviews, Store

CLASSES = list(FASHION_MNIST_CLASSES)
PLOTS = {"learning_curve.png", "simulate_accuracy.png", "simulate_macro_f1.png",
         "per_class_f1.png", "confusion_holdout.png", "confusion_test.png",
         "annotations_per_hour.png", "agreement.png"}
SECTIONS = ["learning-curve", "forecast", "simulate", "latest-model", "throughput",
            "agreement", "duplicates", "review"]


class Page(HTMLParser):
    """The images and sections (id -> data-has-data) of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.sections: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"] or "")
        elif tag == "section":
            self.sections[a["id"] or ""] = a.get("data-has-data") or ""


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def payload(rng: np.random.Generator, accuracy: float, items: int) -> dict:
    y_true = rng.integers(0, len(CLASSES), items)
    wrong = rng.random(items) > accuracy
    y_pred = np.where(wrong, (y_true + 1) % len(CLASSES), y_true)
    return {**compute_metrics(y_true, y_pred, len(CLASSES)).to_dict(), "items": items}


def build_state(path: Path) -> dict[tuple[int, str], dict]:
    """3 rounds with holdout and test metrics; alice and bob annotated the first 10 items
    and disagree on 3 of them (img0-2); 5 more items only alice annotated. img20 and img21
    are exact duplicates; img29 could not be read. Returns the metrics written, by (round,
    split)."""
    rng = np.random.default_rng(0)
    written: dict[tuple[int, str], dict] = {}
    with Store.open(path) as store:
        _fill(store, rng, written)
    return written


def _fill(store: Store, rng: np.random.Generator, written: dict) -> None:
    store.items.add([(f"img{i}", i, None, Split.TRAIN.value) for i in range(30)])
    for round_, labels, acc in ((0, 40, 0.6), (1, 80, 0.7), (2, 120, 0.8)):
        store.rounds.start(round_)
        for split, items in (("holdout", 200), ("test", 300)):
            written[(round_, split)] = payload(rng, acc, items)
            store.metrics.record(round_, split, f"t-r{round_}", written[(round_, split)])
        store.rounds.finish(round_, f"t-r{round_}", labels, RoundStatus.DONE)
    rows, seen = [], {}
    for i in range(15):
        seen[100 + i] = f"img{i}"
        when = f"2026-11-28T{9 + i // 5:02d}:{(i * 7) % 60:02d}:00Z"
        rows.append(AnnotationRow(2 * i + 1, 100 + i, f"img{i}", i % 10, "alice", 4.0 + i,
                                  when))
        if i < 10:
            label = (i + 1) % 10 if i < 3 else i % 10
            rows.append(AnnotationRow(2 * i + 2, 100 + i, f"img{i}", label, "bob", 10.0,
                                      when.replace("Z", "+00:00")))
    store.annotations.apply_pull(2, seen, rows, [], "cursor", "c")
    # a clean found img20 and img21 to be copies of each other
    store.duplicates.replace([("img20", "img21", "exact", 1.0)],
                             [("img20", "exact", ["img20", "img21"])],
                             [("img29", "/photos/img29.jpg", "not a readable image")])
    store.meta.set("cleaned_items", "30")
    # round 2 sent img20-22 to review: img20's reviewer changed the label to the model's
    # suggestion, img21's kept it, img22's task waits; img1's dispute asked a third vote
    store.reviews.add_candidates(2, [("img20", 1, 2, 0.9, 0.95), ("img21", 3, 4, 0.8, 0.9),
                                    ("img22", 5, 6, 0.7, 0.85)])
    store.reviews.record_tasks(2, {"img20": 200, "img21": 201, "img22": 202})
    store.annotations.apply_pull(2, {}, [], [], "cursor", "d", PulledReviews(
        {200: ("img20", 2), 201: ("img21", 2), 202: ("img22", 2)},
        [AnnotationRow(300, 200, "img20", 2, "carol", 3.0, "2026-11-28T12:00:00Z"),
         AnnotationRow(301, 201, "img21", 3, "carol", 3.0, "2026-11-28T12:01:00Z")]))
    store.relabels.add(2, [("img1", 101, 2, 3)])
    store.relabels.mark_applied(2, ["img1"])


def build_simulate(out_dir: Path) -> None:
    """2 strategies x 2 seeds, 3 rounds each; margin gets there with fewer labels."""
    records = []
    for strategy, gain in (("random", 0.05), ("margin", 0.08)):
        for seed in (0, 1):
            for round_ in range(3):
                acc = 0.6 + gain * round_ + 0.01 * seed
                records.append({"strategy": strategy, "seed": seed, "round": round_,
                                "labels": 100 * (round_ + 1), "accuracy": acc,
                                "macro_f1": acc - 0.02})
    write_rounds(records, out_dir)
