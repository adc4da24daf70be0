"""Evaluations (`store.metrics`): each model's metrics on each split, with the number of
train labels of its round (the label-efficiency curve)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from activelearn.state.schema import Table


@dataclass(frozen=True)
class Evaluation:
    """One model evaluated on one split. labels: the train labels at the end of its round
    (None while the round has not finished); payload: Metrics.to_dict() plus "items"."""

    round: int
    split: str
    model_version: str | None
    labels: int | None
    payload: dict


class MetricTable(Table):
    """The metrics table."""

    def record(self, round_: int, split: str, model_version: str, payload: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)",
                            (round_, split, model_version, json.dumps(payload)))

    def of_split(self, split: str) -> dict[int, dict]:
        """round -> metrics payload for one split."""
        return {r: json.loads(p) for r, p in self.db.execute(
            "SELECT round, payload FROM metrics WHERE split=? ORDER BY round", (split,))}

    def evaluations(self) -> list[Evaluation]:
        """Every recorded evaluation, by round then split."""
        rows = self.db.execute(
            "SELECT m.round, m.split, m.model_version, r.labels, m.payload FROM metrics m"
            " LEFT JOIN rounds r USING (round) ORDER BY m.round, m.split")
        return [Evaluation(r, s, v, n, json.loads(p)) for r, s, v, n, p in rows]
