"""How fast the people labelling are: annotations per hour and per annotator, and the
median seconds an annotation takes (Label Studio's lead_time); see
store.annotations.events."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from activelearn.quality.agreement import UNKNOWN_ANNOTATOR


@dataclass(frozen=True)
class AnnotationEvent:
    """When an annotation was last saved (ISO text, as Label Studio gives it), by whom,
    and how long the annotator spent on it (seconds, None when unknown)."""

    annotator: str | None
    lead_time: float | None
    updated_at: str


@dataclass(frozen=True)
class AnnotatorWork:
    """One annotator's annotations and the median seconds spent on one (None: unknown)."""

    annotator: str
    annotations: int
    median_lead_time: float | None
    mean_lead_time: float | None = None


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
    work = [AnnotatorWork(who, n, _median(lead_times[who]), _mean(lead_times[who]))
            for who, n in sorted(counts.items())]
    return Throughput(len(events), dict(hourly), hours, len(events) / span,
                      len(events) / len(hours), work)


@dataclass(frozen=True)
class ClassWork:
    """The seconds annotators spent on the annotations that gave one class: how many
    annotations had a lead time, their median and mean (seconds)."""

    label: int
    annotations: int
    median_lead_time: float
    mean_lead_time: float


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def class_work(lead_times: Mapping[int, Sequence[float]]) -> list[ClassWork]:
    """Seconds per label by class, in class order; lead_times: class index -> the lead
    times (seconds) of the annotations that gave it (store.annotations.class_lead_times).
    Classes without a lead time are left out."""
    return [ClassWork(label, len(times), statistics.median(times), statistics.fmean(times))
            for label, times in sorted(lead_times.items()) if times]


def median_seconds_by_class(lead_times: Mapping[int, Sequence[float]],
                            classes: int | None = None) -> dict[int, float] | None:
    """The expected seconds to label an item of each class: the median lead time of the
    annotations that gave it; a class without one (of range(classes), when given) gets
    the median over all classes. None when there is no lead time at all.

    lead_times: class index -> seconds, as store.annotations.class_lead_times gives them.
    """
    every = [float(t) for times in lead_times.values() for t in times]
    if not every:
        return None
    overall = statistics.median(every)
    medians = {label: float(statistics.median(times))
               for label, times in lead_times.items() if times}
    if classes is not None:
        medians = {label: medians.get(label, overall) for label in range(classes)}
    return medians
