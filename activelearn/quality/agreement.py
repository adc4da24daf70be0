"""How well the people labelling agree: with each other (agreement, Cohen's and Fleiss'
kappa), with trusted gold labels, and with the model's suggestions; computed from the
annotations pulled from Label Studio (see store.annotations.multi_annotated).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from activelearn.kinds import NO_LABEL
from activelearn.quality.votes import majority

UNKNOWN_ANNOTATOR = "(unknown)"


@dataclass(frozen=True)
class AnnotatorAgreement:
    """items: multi-annotated items the annotator labelled; votes: their annotations on
    items where the other annotators have a majority (no tie among them); agreed: how
    many of those chose the others' majority label."""

    annotator: str
    items: int
    votes: int
    agreed: int

    @property
    def share(self) -> float | None:
        """agreed / votes; None when the others never had a majority."""
        return self.agreed / self.votes if self.votes else None


@dataclass(frozen=True)
class Agreement:
    """items: annotated more than once; unanimous: all their annotations agree; ties: no
    majority over all votes (activelearn leaves those unlabelled)."""

    items: int
    unanimous: int
    ties: int
    annotators: list[AnnotatorAgreement]

    @property
    def unanimous_share(self) -> float:
        return self.unanimous / self.items if self.items else 0.0


def agreement(votes: dict[str, list[tuple[str | None, int]]]) -> Agreement | None:
    """votes: item_id -> (annotator, label) per annotation, items annotated more than
    once; None without such items.

    Each annotation is compared with the majority of the item's *other* annotations, so
    with two annotators it is plain pairwise agreement, and an annotator's own vote
    never props up their score.
    """
    if not votes:
        return None
    unanimous = ties = 0
    items: Counter[str] = Counter()
    cast: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for item_votes in votes.values():
        labels = [label for _, label in item_votes]
        unanimous += len(set(labels)) == 1
        ties += majority(labels) == NO_LABEL
        for name in {a or UNKNOWN_ANNOTATOR for a, _ in item_votes}:
            items[name] += 1
        for k, (who, label) in enumerate(item_votes):
            others = majority(labels[:k] + labels[k + 1:])
            if others != NO_LABEL:
                name = who or UNKNOWN_ANNOTATOR
                cast[name] += 1
                agreed[name] += label == others
    people = [AnnotatorAgreement(who, items[who], cast[who], agreed[who])
              for who in sorted(items)]
    return Agreement(len(votes), unanimous, ties, people)


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa of two annotators over the items both annotated (kappa None when
    chance agreement is 1: both always chose the same single class)."""

    first: str
    second: str
    items: int
    observed: float
    kappa: float | None


@dataclass(frozen=True)
class FleissKappa:
    """Fleiss' kappa over the `items` items that have exactly `raters` annotations (the
    most common count among multi-annotated items; ties: the larger count). `excluded`
    items had another count and are left out: Fleiss' kappa needs the same number of
    ratings per item."""

    raters: int
    items: int
    excluded: int
    kappa: float | None


def cohen_kappa(pairs: Sequence[tuple[int, int]]) -> float | None:
    """Cohen's kappa of (label of rater 1, label of rater 2) per item: (p_o - p_e) /
    (1 - p_e); None without pairs or when p_e is 1."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(first[c] * second[c] for c in first) / (n * n)
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa of a rating table: table[item][class] = raters who chose the class,
    the same number of raters (at least 2) on every item. None when undefined."""
    if not table:
        return None
    raters = sum(table[0])
    if raters < 2 or any(sum(row) != raters for row in table):
        raise ValueError(f"Fleiss' kappa needs the same number (>= 2) of ratings per item, "
                         f"got {sorted({sum(row) for row in table})}")
    n = len(table)
    agree = sum((sum(c * c for c in row) - raters) / (raters * (raters - 1))
                for row in table) / n
    shares = [sum(row[j] for row in table) / (n * raters) for j in range(len(table[0]))]
    chance = sum(p * p for p in shares)
    return None if chance >= 1 else (agree - chance) / (1 - chance)


def pairwise_kappa(votes: dict[str, list[tuple[str | None, int]]]) -> list[PairKappa]:
    """Cohen's kappa for every pair of annotators with an item in common (their first
    annotation of an item counts), in name order."""
    by_annotator: dict[str, dict[str, int]] = defaultdict(dict)
    for item_id, item_votes in votes.items():
        for who, label in item_votes:
            by_annotator[who or UNKNOWN_ANNOTATOR].setdefault(item_id, label)
    names = sorted(by_annotator)
    out = []
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            a, b = by_annotator[first], by_annotator[second]
            pairs = [(a[item], b[item]) for item in sorted(a.keys() & b.keys())]
            if pairs:
                observed = sum(x == y for x, y in pairs) / len(pairs)
                out.append(PairKappa(first, second, len(pairs), observed, cohen_kappa(pairs)))
    return out


def fleiss(votes: dict[str, list[tuple[str | None, int]]]) -> FleissKappa | None:
    """Fleiss' kappa over the multi-annotated items with the most common annotation count
    (see FleissKappa); None without items annotated at least twice."""
    counts = Counter(len(v) for v in votes.values() if len(v) >= 2)
    if not counts:
        return None
    raters = max(counts, key=lambda k: (counts[k], k))
    classes = sorted({label for v in votes.values() for _, label in v})
    column = {label: j for j, label in enumerate(classes)}
    table = []
    for item_votes in votes.values():
        if len(item_votes) == raters:
            row = [0] * len(classes)
            for _, label in item_votes:
                row[column[label]] += 1
            table.append(row)
    excluded = sum(counts.values()) - len(table)
    return FleissKappa(raters, len(table), excluded, fleiss_kappa(table))


@dataclass(frozen=True)
class GoldScore:
    """An annotator's annotations compared with a reference label (the trusted label of
    gold items, or the model's suggestion) and how many chose it."""

    annotator: str
    items: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.items if self.items else 0.0


def gold_accuracy(rows: Sequence[tuple[str | None, int, int]]) -> list[GoldScore]:
    """rows: (annotator, reference label, annotated label) per annotation, the reference
    being a gold item's trusted label (or the model's suggestion, see model_votes); each
    annotator's share of annotations that match it, in name order."""
    items: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for who, trusted, label in rows:
        name = who or UNKNOWN_ANNOTATOR
        items[name] += 1
        correct[name] += trusted == label
    return [GoldScore(who, items[who], correct[who]) for who in sorted(items)]


def quality_summary(annotations: Counter[str] | dict[str, int],
                    votes: dict[str, list[tuple[str | None, int]]],
                    gold_rows: Sequence[tuple[str | None, int, int]],
                    model_rows: Sequence[tuple[str | None, int, int]] = ()) -> dict:
    """The agreement numbers as plain data (status --json "agreement"): per annotator
    their annotation count, agreement with the others' majority, gold accuracy and
    agreement with the model's suggestions; the pairwise Cohen's kappas; Fleiss' kappa.
    annotations: annotator -> annotations.

    With two annotators their agreement with each other is one number for both: it
    shows that one errs, not which. Gold items and the model (a third opinion that had
    not seen the label) tell which."""
    agreed = {p.annotator: p for p in (agreement(votes) or Agreement(0, 0, 0, [])).annotators}
    gold = {g.annotator: g for g in gold_accuracy(gold_rows)}
    model = {g.annotator: g for g in gold_accuracy(model_rows)}
    names = sorted(set(annotations) | set(agreed) | set(gold) | set(model))
    people = []
    for name in names:
        a, g, m = agreed.get(name), gold.get(name), model.get(name)
        people.append({"annotator": name, "annotations": int(annotations.get(name, 0)),
                       "compared": a.votes if a else 0, "agreement": a.share if a else None,
                       "gold_items": g.items if g else 0,
                       "gold_accuracy": g.accuracy if g else None,
                       "model_items": m.items if m else 0,
                       "model_agreement": m.accuracy if m else None})
    found = fleiss(votes)
    return {"annotators": people,
            "pairwise_kappa": [{"annotators": [p.first, p.second], "items": p.items,
                                "observed": p.observed, "kappa": p.kappa}
                               for p in pairwise_kappa(votes)],
            "fleiss_kappa": None if found is None else
            {"raters": found.raters, "items": found.items, "excluded": found.excluded,
             "kappa": found.kappa}}
