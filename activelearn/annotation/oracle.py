"""The simulated annotator of `simulate`: answers with the dataset's ground truth."""

from __future__ import annotations

import numpy as np

from activelearn.errors import DataError
from activelearn.kinds import UNKNOWN_LABEL


class Oracle:
    """Labels items from known ground truth (labels: [items], indexed like item_ids)."""

    name = "oracle"

    def __init__(self, item_ids: list[str], labels: np.ndarray) -> None:
        self._truth = dict(zip(item_ids, labels.tolist()))

    def annotate(self, item_ids: list[str]) -> list[tuple[str, int]]:
        """(item_id, label) for each requested item; fails for an item without ground truth."""
        out = []
        for item_id in item_ids:
            label = self._truth.get(item_id, UNKNOWN_LABEL)
            if label == UNKNOWN_LABEL:
                raise DataError(f"simulate needs ground truth, but item {item_id} has no label; "
                                "use a labeled source (class subfolders or a label column)")
            out.append((item_id, label))
        return out
