"""simulate records for tests of what reads them (records, results, the report)."""

from __future__ import annotations


def curve(strategy: str, points: list[tuple[int, float]], seed: int = 0, **extra) -> list[dict]:
    """Records for one (strategy, seed): one per (labels, accuracy) point."""
    return [
        {"strategy": strategy, "seed": seed, "round": i, "labels": labels,
         "accuracy": acc, "macro_f1": acc - 0.01, **extra}
        for i, (labels, acc) in enumerate(points)
    ]


RANDOM = [(1000, 0.60), (2000, 0.70), (3000, 0.75), (4000, 0.80)]
MARGIN = [(1000, 0.70), (2000, 0.82), (3000, 0.85), (4000, 0.86)]
