"""How the people labelling are doing: throughput, lead time and agreement, computed from
the annotations pulled from Label Studio (see Store.annotation_events, multi_annotated).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from activelearn.state import NO_LABEL, majority
from activelearn.state.reports import AnnotationEvent

UNKNOWN_ANNOTATOR = "(unknown)"


@dataclass(frozen=True)
class AnnotatorWork:
    """One annotator's annotations and the median seconds spent on one (None: unknown)."""

    annotator: str
    annotations: int
    median_lead_time: float | None


@dataclass(frozen=True)
class Throughput:
    """hourly: (hour start in UTC, annotator) -> annotations saved in that hour.
    per_hour: annotations / hours from the first hour to the last (idle hours count);
    per_active_hour: annotations / hours in which anything was saved."""

    total: int
    hourly: dict[tuple[datetime, str], int]
    hours: list[datetime]
    per_hour: float
    per_active_hour: float
    annotators: list[AnnotatorWork]


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as Label Studio writes it ("...Z", an offset, or naive = UTC)."""
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def throughput(events: Sequence[AnnotationEvent]) -> Throughput | None:
    """Annotations per hour and per annotator; None without annotations."""
    if not events:
        return None
    hourly: Counter[tuple[datetime, str]] = Counter()
    lead_times: dict[str, list[float]] = defaultdict(list)
    counts: Counter[str] = Counter()
    for event in events:
        who = event.annotator or UNKNOWN_ANNOTATOR
        hour = parse_time(event.updated_at).astimezone(timezone.utc)
        hourly[(hour.replace(minute=0, second=0, microsecond=0), who)] += 1
        counts[who] += 1
        if event.lead_time is not None:
            lead_times[who].append(float(event.lead_time))
    hours = sorted({hour for hour, _ in hourly})
    span = (hours[-1] - hours[0]).total_seconds() / 3600 + 1
    work = [AnnotatorWork(who, n, statistics.median(lead_times[who]) if lead_times[who]
                          else None) for who, n in sorted(counts.items())]
    return Throughput(len(events), dict(hourly), hours, len(events) / span,
                      len(events) / len(hours), work)


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
