"""`loop.stop_when`: when `activelearn cycle` stops selecting new batches (a section of
LoopConfig, kept beside schema.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StopWhenConfig:
    """When `cycle` stops selecting and pushing new query batches (`loop.stop_when`). It
    still pulls annotations and trains; `status` and `cycle` print the suggestion either
    way. Each criterion is a fraction; 0 = off (the default), and the first one met stops
    selection.

    Attributes:
        gain_per_1000 [0, 1]: stop once the learning-curve forecast gains less than this
            accuracy per 1,000 more train labels (a fraction: 0.002 = 0.2 points); needs 3
            rounds with holdout results
        accuracy [0, 1]: stop once the latest holdout accuracy reaches this
        strict: judge by the uncertainty bands instead of the estimates: the upper end of
            the forecast's 90% bootstrap band below gain_per_1000, the lower end of the
            holdout accuracy's 95% Wilson interval at or above accuracy (stops later,
            rarely wrongly)
    """

    gain_per_1000: float = 0.0
    accuracy: float = 0.0
    strict: bool = False

    @property
    def enabled(self) -> bool:
        """True when a criterion is set."""
        return self.gain_per_1000 > 0 or self.accuracy > 0
