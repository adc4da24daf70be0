"""GET /metrics: the project and the service in Prometheus's text format, read from the
state at each scrape (prometheus_client's custom collector; nothing is kept twice).

Label values are bounded: a request can name any webhook action, so actions are kept
only while they look like Label Studio's (upper case and _, at most 64 characters) and
at most MAX_LABEL_VALUES of them; any other is counted as "other". Routes are the
service's own route templates, statuses HTTP's."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from activelearn.kinds import RoundStatus, Split
from activelearn.project import Project

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_LABEL_VALUES = 32  # distinct webhook actions counted by name
OTHER = "other"
_ACTION = re.compile(r"[A-Z][A-Z_]{0,63}")


class BoundedCounter(Counter[str]):
    """A Counter that keeps at most `limit` keys matching `pattern`: any other key is
    read and counted as OTHER (so `counts[key] += 1` works as on a Counter)."""

    def __init__(self, limit: int = MAX_LABEL_VALUES, pattern: re.Pattern = _ACTION) -> None:
        super().__init__()
        self.limit, self.pattern = limit, pattern

    def _key(self, key: str) -> str:
        if dict.__contains__(self, key):
            return key
        known = len(self) - dict.__contains__(self, OTHER)
        fits = isinstance(key, str) and self.pattern.fullmatch(key) is not None
        return key if fits and known < self.limit else OTHER

    def __getitem__(self, key: str) -> int:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(self._key(key), value)


@dataclass
class ServiceCounts:
    """What the service itself counts: webhook events by action (accepted ones, bounded),
    refused webhooks by reason, requests answered with an error by (route template,
    status), label changes received, cycles started, the last cycle."""

    events: BoundedCounter = field(default_factory=BoundedCounter)
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, int]] = field(default_factory=Counter)
    changes: int = 0
    ignored: int = 0  # events of other projects


@dataclass(frozen=True)
class CycleFigures:
    """The cycles' side, from the runner and the trigger at scrape time."""

    started: int
    running: bool
    pending: int
    last_seconds: float | None
    last_exit_code: int | None
    last_ended_at: float | None


class ProjectCollector:
    """Collects the state's figures and the service's counts at each scrape."""

    def __init__(self, project: Project, counts: ServiceCounts,
                 cycles: Callable[[], CycleFigures]) -> None:
        self.project = project
        self.counts = counts
        self.cycles = cycles

    def collect(self) -> Iterator[Metric]:
        yield from self._state()
        yield from self._service()

    def _state(self) -> Iterator[Metric]:
        rounds = GaugeMetricFamily("activelearn_rounds", "Rounds finished")
        labels = GaugeMetricFamily("activelearn_labels", "Labels in the state", labels=["split"])
        waiting = GaugeMetricFamily("activelearn_queue_depth",
                                    "Pushed tasks without a label as of the last pull",
                                    labels=["split"])
        accuracy = GaugeMetricFamily("activelearn_holdout_accuracy",
                                     "Accuracy of the latest model on the holdout")
        if self.project.has_state():
            with self.project.store(readonly=True) as store:
                rounds.add_metric([], sum(r.status == RoundStatus.DONE.value
                                          for r in store.rounds.all()))
                counts = store.labels.counts()
                for split in (Split.TRAIN, Split.HOLDOUT):
                    labels.add_metric([split.value], counts.get(split.value, 0))
                    waiting.add_metric([split.value], store.tasks.waiting(split.value))
                holdout = store.metrics.of_split(Split.HOLDOUT.value)
                if holdout:
                    accuracy.add_metric([], holdout[max(holdout)]["accuracy"])
        yield from (rounds, labels, waiting, accuracy)

    def _service(self) -> Iterator[Metric]:
        c = self.counts
        events = CounterMetricFamily("activelearn_webhook_events",
                                     "Webhook events accepted, by action", labels=["action"])
        for action, n in sorted(c.events.items()):
            events.add_metric([action], n)
        refused = CounterMetricFamily("activelearn_webhook_refused",
                                      "Webhook requests refused, by reason", labels=["reason"])
        for reason, n in sorted(c.refused.items()):
            refused.add_metric([reason], n)
        changes = CounterMetricFamily("activelearn_label_changes",
                                      "Annotations created, updated or deleted (webhooks)")
        changes.add_metric([], c.changes)
        ignored = CounterMetricFamily("activelearn_webhook_ignored",
                                      "Webhook events of other projects")
        ignored.add_metric([], c.ignored)
        errors = CounterMetricFamily("activelearn_http_errors",
                                     "Requests answered with an error, by route and status",
                                     labels=["route", "status"])
        for (route, status), n in sorted(c.errors.items()):
            errors.add_metric([route, str(status)], n)
        yield from (events, refused, changes, ignored, errors)
        f = self.cycles()
        yield CounterMetricFamily("activelearn_cycles_started", "Cycles started by the service",
                                  value=f.started)
        yield GaugeMetricFamily("activelearn_cycle_running", "1 while a cycle runs",
                                value=int(f.running))
        yield GaugeMetricFamily("activelearn_pending_changes",
                                "Label changes waiting for the next cycle", value=f.pending)
        if f.last_seconds is not None:
            yield GaugeMetricFamily("activelearn_last_cycle_duration_seconds",
                                    "How long the last cycle ran", value=f.last_seconds)
            yield GaugeMetricFamily("activelearn_last_cycle_exit_code",
                                    "The last cycle's exit code (0 ok, 75 lock held)",
                                    value=f.last_exit_code)
            yield GaugeMetricFamily("activelearn_last_cycle_success",
                                    "1 when the last cycle succeeded",
                                    value=int(f.last_exit_code == 0))
            yield GaugeMetricFamily("activelearn_last_cycle_end_time_seconds",
                                    "When the last cycle ended (unix time)",
                                    value=f.last_ended_at)


def render(collector: ProjectCollector) -> bytes:
    """The text exposition of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
