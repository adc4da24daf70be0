"""The annotation cost of `simulate`: how many seconds the simulated annotator spends on
each label (simulate's class_seconds, seconds_default, seconds_spread), the lead times
it is observed to take (what Label Studio records as lead_time), and the expected seconds
per class that strategy.cost_weighted learns from them, as the real loop does: from the
labelled items only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from activelearn.config import StrategyConfig
from activelearn.errors import OptionError
from activelearn.files import write_csv
from activelearn.kinds import find_class
from activelearn.quality.throughput import median_seconds_by_class
from activelearn.strategies import get_strategy, strategy_for

# The longest a label may take in the model (a day): beyond it a value is a typo.
MAX_SECONDS = 86_400.0
# The parameters the errors name (OptionError): the command line shows its flags.
OPTIONS = {"class_seconds": "class_seconds", "seconds_default": "seconds_default",
           "seconds_spread": "seconds_spread"}


@dataclass(frozen=True)
class CostModel:
    """class_seconds: [classes] the median seconds the annotator spends on a label of
    each (true) class; spread: sigma of the lognormal each item's time is drawn from
    around its class's median (0 = every item of a class takes exactly its median);
    seed: fixes the draws, so an item costs the same in every strategy's run."""

    class_seconds: tuple[float, ...]
    spread: float = 0.0
    seed: int = 0

    def item_seconds(self, labels: np.ndarray) -> np.ndarray:
        """labels: [items] true classes -> [items] the seconds each item's label takes."""
        base = np.asarray(self.class_seconds, dtype=np.float64)[np.asarray(labels)]
        if self.spread <= 0:
            return base
        rng = np.random.default_rng([self.seed, 0xC057])
        return base * np.exp(self.spread * rng.standard_normal(len(base)))

    def describe(self, class_names: Sequence[str]) -> str:
        """One line: each class's seconds per label, and the spread."""
        classes = ", ".join(f"{name} {s:g}" for name, s in zip(class_names,
                                                               self.class_seconds))
        spread = f", lognormal spread {self.spread:g} (seed {self.seed})" if self.spread \
            else ""
        return f"annotation cost: seconds per label by class: {classes}{spread}"


def parse_cost_model(class_seconds: Sequence[str], seconds_default: float | None,
                     seconds_spread: float, class_names: Sequence[str],
                     seed: int) -> CostModel | None:
    """The cost model of simulate's options: class_seconds "CLASS=SECONDS" (CLASS a class
    name or index), seconds_default for the classes not named, seconds_spread the sigma
    of the lognormal around them. None when neither seconds is given (no cost model: no
    annotator hours). Raises an OptionError naming the bad parameter."""
    if not class_seconds and seconds_default is None:
        if seconds_spread:
            raise OptionError("{seconds_spread}: needs {class_seconds} or {seconds_default}",
                              OPTIONS)
        return None
    seconds: dict[int, float] = {}
    for spec in class_seconds:
        name, sep, value = spec.rpartition("=")
        if not sep or not name:
            raise OptionError("{class_seconds}: expected CLASS=SECONDS, got {spec}", OPTIONS,
                              spec=repr(spec))
        seconds[_class_index(name.strip(), class_names)] = _seconds(
            value, "{class_seconds}: {spec}", spec=repr(spec))
    missing = [class_names[k] for k in range(len(class_names)) if k not in seconds]
    if missing and seconds_default is None:
        raise OptionError("{class_seconds}: no seconds for {missing}; name them or give "
                          "{seconds_default} S for the rest", OPTIONS,
                          missing=", ".join(missing))
    if seconds_default is not None:
        _seconds(str(seconds_default), "{seconds_default} {given}", given=seconds_default)
    per_class = tuple(seconds.get(k, seconds_default or 0.0) for k in range(len(class_names)))
    return CostModel(per_class, seconds_spread, seed)


def _class_index(name: str, class_names: Sequence[str]) -> int:
    found = find_class(name, class_names)
    if found is None:
        raise OptionError("{class_seconds}: no class {name}; use a class name ({classes}) "
                          "or an index 0-{last}", OPTIONS, name=repr(name),
                          classes=", ".join(class_names), last=len(class_names) - 1)
    return found


def _seconds(value: str, where: str, **values: object) -> float:
    """value as seconds; where: the OptionError template naming it (values: its fields)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_SECONDS:  # NaN fails too
        raise OptionError(where + ": seconds must be a number above 0 and at most {most}",
                          OPTIONS, most=f"{MAX_SECONDS:g}", **values)
    return seconds


class LeadTimes:
    """The lead times a simulated run's labels took: each item's seconds from the cost
    model, observed once the item is labelled. Without a cost model nothing is known."""

    def __init__(self, model: CostModel | None, labels: np.ndarray) -> None:
        """labels: [items] the pool's true classes."""
        self.labels = np.asarray(labels)
        self.seconds = None if model is None else model.item_seconds(self.labels)
        self.observed = np.zeros(len(self.labels), dtype=bool)
        self.rounds = np.full(len(self.labels), -1, dtype=np.int64)

    @property
    def known(self) -> bool:
        """Whether there is a cost model (and so lead times)."""
        return self.seconds is not None

    def observe(self, positions: np.ndarray, round_: int) -> None:
        """The items at these pool positions were labelled in round_."""
        self.observed[positions] = True
        self.rounds[positions] = round_

    def spent(self) -> float:
        """Seconds the annotator spent on every label so far (0 without a cost model)."""
        return 0.0 if self.seconds is None else float(self.seconds[self.observed].sum())

    def class_seconds(self, classes: int) -> list[float] | None:
        """[classes] the median observed lead time of each class's labelled items, the
        median over all of them for a class without one; None without any (as the real
        loop: quality.throughput.median_seconds_by_class)."""
        if self.seconds is None:
            return None
        done = np.flatnonzero(self.observed)
        by_class = {k: self.seconds[done[self.labels[done] == k]].tolist()
                    for k in range(classes)}
        medians = median_seconds_by_class(by_class, classes)
        return None if medians is None else [medians[k] for k in range(classes)]

    def write(self, path: Path, item_ids: Sequence[str]) -> None:
        """The observed lead times as CSV: item_id, label, round, seconds."""
        if self.seconds is None:
            return
        done = np.flatnonzero(self.observed)
        write_csv(path, [["item_id", "label", "round", "seconds"], *[
            [item_ids[i], int(self.labels[i]), int(self.rounds[i]),
             round(float(self.seconds[i]), 3)] for i in done]])


def cost_lines(strategy: StrategyConfig, strategies: Sequence[str], cost: CostModel | None,
               class_names: Sequence[str]) -> list[str]:
    """What simulate says about the cost model and strategy.cost_weighted, one line each.
    strategies: the runs' strategy names (auto is judged by auto_late, as at load)."""
    lines = [cost.describe(class_names)] if cost is not None else []
    if not strategy.cost_weighted:
        return lines
    if cost is None:
        return lines + ["strategy.cost_weighted: no lead times (no annotation cost: no "
                        "seconds per label were given): every strategy ranks by its score "
                        "alone"]
    late = {n: strategy_for(replace(strategy, name=n), strategy.auto_switch_at)
            for n in strategies}
    weighted = [n for n in strategies if get_strategy(late[n]).ranks_by_score]
    others = [n for n in strategies if n not in weighted]
    if weighted:
        verb = "ranks" if len(weighted) == 1 else "rank"
        shown = [n if late[n] == n else f"{n} (its {late[n]} rounds)" for n in weighted]
        lines.append(f"strategy.cost_weighted: {', '.join(shown)} {verb} by score per "
                     "expected second (the median observed lead time of the predicted "
                     "class, from the labelled items)")
    if others:
        verb = "has" if len(others) == 1 else "have"
        lines.append(f"strategy.cost_weighted: {', '.join(others)} {verb} no per-item "
                     "score: unweighted")
    return lines
