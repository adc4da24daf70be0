"""The bot annotator: labels a Label Studio project's open tasks with the dataset's ground
truth, so the real loop can run unattended against a real server.

Each simulated annotator is its own Label Studio user (bot-1, bot-2, ...) with its own
accuracy: with probability 1 - accuracy it picks another class, uniformly at random. The
choice depends only on (seed, annotator, item id), so a rerun makes the same choices, and
a task an annotator has annotated is never annotated by it again.

With `seconds` (class index -> seconds) each annotation reports the time its annotator
took, as Label Studio's editor does (the annotation's lead_time): the seconds of the
item's true class, the one the image shows, whatever label the annotator gives. A class
without seconds sends none.

By default every annotator annotates every task. With follow_overlap the bots act as a
team that Label Studio serves: a task gets only as many annotations as its overlap asks
(those already there count), from annotators taken in turn, so with two bots and overlap
1 each annotates half of the tasks and a task with overlap 2 gets both.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from activelearn.errors import ConfigError, OptionError
from activelearn.kinds import find_class

if TYPE_CHECKING:
    from activelearn.annotation.backend import AnnotationBackend, TaskAnnotators

log = logging.getLogger(__name__)

EMAIL_DOMAIN = "activelearn.invalid"  # a reserved domain: no mail ever reaches it
# The parameters the errors name (OptionError): the command line shows its flags.
OPTIONS = {"limit": "limit", "seconds": "seconds", "seconds_default": "seconds_default"}


@dataclass
class AnnotatorReport:
    """What one simulated annotator did in one run.

    annotated: new annotations, of which `wrong` name a class other than the truth on
    purpose; already: tasks it had annotated before; no_truth: tasks whose item has no
    ground truth (skipped); left: open tasks it did not reach because of the limit.
    """

    name: str
    user_id: int
    accuracy: float
    annotated: int = 0
    wrong: int = 0
    already: int = 0
    no_truth: int = 0
    left: int = 0
    others: int = 0  # open tasks whose overlap the other annotators fill (follow_overlap)

    def summary(self) -> str:
        """One line for the command line."""
        return (f"{self.name} (user {self.user_id}, accuracy {self.accuracy:g}): annotated "
                f"{self.annotated} ({self.wrong} wrong on purpose), {self.already} already "
                f"done, {self.no_truth} without ground truth, {self.left} left by the limit"
                + (f", {self.others} served to others" if self.others else ""))


@dataclass
class BotReport:
    """A run of the bot: the project's task count and each annotator's report."""

    tasks: int
    annotators: list[AnnotatorReport] = field(default_factory=list)


def annotator_name(k: int) -> str:
    """The name of the k-th simulated annotator (k from 1); its email is name@EMAIL_DOMAIN."""
    return f"bot-{k}"


def bot_label(truth: int, n_classes: int, accuracy: float, seed: int, annotator: int,
              item_id: str) -> int:
    """The class index annotator `annotator` gives the item: the truth with probability
    `accuracy`, else another class uniformly. Deterministic in (seed, annotator, item_id)."""
    # a string seed is hashed (sha512) by random.Random: stable across runs and machines
    rng = random.Random(f"{seed}/{annotator}/{item_id}")
    if rng.random() < accuracy:
        return truth
    return rng.choice([c for c in range(n_classes) if c != truth])


def annotate_open_tasks(backend: AnnotationBackend, project_id: int, truth: dict[str, int],
                        class_names: list[str], accuracies: Sequence[float], seed: int = 0,
                        limit: int | None = None, follow_overlap: bool = False,
                        seconds: Mapping[int, float] | None = None) -> BotReport:
    """Let one simulated annotator per accuracy annotate every task of the project it has
    not annotated yet and whose item is in `truth` (item_id -> class index), at most
    `limit` new tasks each, in task id order. Running it again annotates nothing new.
    follow_overlap: only the annotations each task's overlap still asks for (see above).
    seconds: the lead time each annotation reports, by the item's true class (see above;
    class_seconds reads it from "CLASS=S").
    """
    _check(accuracies, class_names, limit)
    tasks = backend.annotators.task_annotators(project_id)
    report = BotReport(tasks=len(tasks))
    for k, accuracy in enumerate(accuracies, start=1):
        name = annotator_name(k)
        user_id = backend.annotators.ensure_annotator(f"{name}@{EMAIL_DOMAIN}", name)
        report.annotators.append(AnnotatorReport(name, user_id, accuracy))
    users = [a.user_id for a in report.annotators]
    turns = [_turn(task, n, users) for n, task in enumerate(tasks)] if follow_overlap else None
    times = dict(seconds or {})
    work: list[tuple[int, str, int, float | None]] = []
    for k, mine in enumerate(report.annotators, start=1):
        mine_tasks = tasks
        if turns is not None:
            # its turns, and the tasks it annotated before (counted as already done)
            mine_tasks = [t for t, turn in zip(tasks, turns)
                          if mine.user_id in turn or mine.user_id in t.annotators]
            mine.others = sum(mine.user_id not in turn and mine.user_id not in t.annotators
                              for t, turn in zip(tasks, turns))
        for task_id, label, true in _plan(mine_tasks, truth, class_names, seed, k, mine,
                                          limit):
            work.append((task_id, class_names[label], mine.user_id, times.get(true)))
    backend.annotators.annotate_many(work)
    for mine in report.annotators:
        log.info("project %d: %s", project_id, mine.summary())
    return report


def _turn(task: TaskAnnotators, position: int, users: list[int]) -> set[int]:
    """The bot users who annotate this task now: as many as its overlap still asks for,
    taken in turn from the one after the previous task's first."""
    need = task.overlap - len(task.annotators)
    start = position % len(users)
    order = users[start:] + users[:start]
    return set([u for u in order if u not in task.annotators][:max(need, 0)])


def _plan(tasks: Sequence[TaskAnnotators], truth: dict[str, int], class_names: list[str],
          seed: int, k: int, mine: AnnotatorReport,
          limit: int | None) -> list[tuple[int, int, int]]:
    """(task id, class index given, true class index) of the tasks annotator k annotates
    now; counts in `mine`."""
    planned: list[tuple[int, int, int]] = []
    for task in tasks:
        if mine.user_id in task.annotators:
            mine.already += 1
        elif task.item_id not in truth:
            mine.no_truth += 1
        elif limit is not None and len(planned) >= limit:
            mine.left += 1
        else:
            true = truth[task.item_id]
            if not 0 <= true < len(class_names):
                raise ValueError(f"item {task.item_id}: ground truth {true} is not a class "
                                 f"index (0..{len(class_names) - 1})")
            label = bot_label(true, len(class_names), mine.accuracy, seed, k, task.item_id)
            if label != true:
                mine.wrong += 1
            planned.append((task.task_id, label, true))
    mine.annotated = len(planned)
    return planned


def _check(accuracies: Sequence[float], class_names: list[str], limit: int | None) -> None:
    if not accuracies:
        raise ConfigError("the bot needs at least one annotator accuracy")
    bad = [a for a in accuracies if not 0.0 <= a <= 1.0]
    if bad:
        raise ConfigError(f"annotator accuracy {bad[0]:g} is not between 0 and 1")
    if min(accuracies) < 1.0 and len(class_names) < 2:
        raise ConfigError(f"an annotator with accuracy {min(accuracies):g} needs another "
                          f"class to pick, but there is only {class_names}")
    if limit is not None and limit < 1:
        raise OptionError("{limit} {value}: give at least 1 task per annotator", OPTIONS,
                          value=limit)


def class_seconds(specs: Sequence[str], class_names: Sequence[str],
                  default: float | None = None) -> dict[int, float]:
    """The seconds the bot reports for an item of each class (class index -> seconds),
    from "CLASS=S" texts (CLASS a class name or index, S seconds >= 0); a class not named
    takes `default` (None: it reports no lead time). A bad text is a ConfigError."""
    found: dict[int, float] = {}
    if default is not None:
        _seconds_value(str(default), "{seconds_default}")
        found = dict.fromkeys(range(len(class_names)), float(default))
    for spec in specs:
        name, eq, value = spec.rpartition("=")
        if not eq or not name.strip():
            raise OptionError("{seconds} {spec}: give CLASS=SECONDS, e.g. {example}=12.5 or "
                              "0=12.5", OPTIONS, spec=repr(spec), example=repr(class_names[0]))
        found[_class_index(name.strip(), class_names, spec)] = _seconds_value(
            value, "{seconds} {spec}", spec=repr(spec))
    return found


def _class_index(name: str, class_names: Sequence[str], spec: str) -> int:
    found = find_class(name, class_names)
    if found is None:
        raise OptionError("{seconds} {spec}: {name} is not a class; give one of {classes} or "
                          "an index 0..{last}", OPTIONS, spec=repr(spec), name=repr(name),
                          classes=", ".join(class_names), last=len(class_names) - 1)
    return found


def _seconds_value(text: str, where: str, **values: object) -> float:
    """text as seconds; where: the OptionError template naming it (values: its fields)."""
    try:
        value = float(text)
    except ValueError:
        raise OptionError(where + ": {text} is not a number of seconds", OPTIONS,
                          text=repr(text.strip()), **values) from None
    if not math.isfinite(value) or value < 0:
        raise OptionError(where + ": seconds must be a finite number >= 0, not {text}",
                          OPTIONS, text=text.strip(), **values)
    return value
