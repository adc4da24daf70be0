"""Range: the numbers a key allows, and the one line that says a value is not one of them
(checks.py's plain ranges)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed numbers: from low (inclusive, or exclusive when above is true) up to high
    (inclusive; None = no upper limit). note follows high in the message (a unit)."""

    low: float
    high: float | None = None
    above: bool = False
    note: str = ""

    def problem(self, key: str, value: float) -> str | None:
        """The one-line problem of value at key, or None when it is allowed."""
        if value < self.low or (self.above and value == self.low):
            return f"{key}: must be {self._least()}, got {value}{self._allowed()}"
        if self.high is not None and value > self.high:
            return f"{key}: must be at most {self.high}, got {value}{self._allowed()}"
        return None

    def _least(self) -> str:
        if (self.above and self.low == 0) or (not self.above and self.low == 1):
            return "positive"
        return f"above {self.low}" if self.above else f"{self.low} or more"

    def _allowed(self) -> str:
        if self.high is None:
            return ""
        least = f"above {self.low}, up to" if self.above else f"{self.low} to"
        return f" (allowed: {least} {self.high}{self.note})"
