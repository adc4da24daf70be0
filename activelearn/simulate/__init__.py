"""`activelearn simulate`: the offline loop against a simulated annotator, strategies and
recipes side by side on paired runs.

The public names are importable from the package (`from activelearn.simulate import
simulate, TargetSpec`). They load on first use: `report` reads a run's records and
targets through this package without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activelearn.simulate.cost import CostModel, LeadTimes, cost_lines, parse_cost_model
    from activelearn.simulate.full_data import FullData, full_data_digest
    from activelearn.simulate.records import METRIC_LABELS, Record, csv_columns, write_rounds
    from activelearn.simulate.run import Figures, SimulatedRun, simulate
    from activelearn.simulate.schedule import (
        describe_schedule,
        fixed_batch,
        label_schedule,
        next_batch,
    )
    from activelearn.simulate.targets import (
        TARGET_METRICS,
        TARGETS_FILE,
        Target,
        TargetSpec,
        read_targets,
        write_targets,
    )
    from activelearn.simulate.training import Trained, train_and_evaluate

_WHERE = {
    "CostModel": "cost", "LeadTimes": "cost", "cost_lines": "cost",
    "parse_cost_model": "cost",
    # not the function full_data: its module of the same name shadows it here
    "FullData": "full_data", "full_data_digest": "full_data",
    "METRIC_LABELS": "records", "Record": "records", "csv_columns": "records",
    "write_rounds": "records",
    "Figures": "run", "SimulatedRun": "run", "simulate": "run",
    "describe_schedule": "schedule", "fixed_batch": "schedule",
    "label_schedule": "schedule", "next_batch": "schedule",
    "TARGET_METRICS": "targets", "TARGETS_FILE": "targets", "Target": "targets",
    "TargetSpec": "targets", "read_targets": "targets", "write_targets": "targets",
    "Trained": "training", "train_and_evaluate": "training",
}

__all__ = [
    "CostModel", "Figures", "FullData", "LeadTimes", "METRIC_LABELS", "Record", "SimulatedRun",
    "TARGETS_FILE", "TARGET_METRICS", "Target", "TargetSpec", "Trained", "cost_lines",
    "csv_columns", "describe_schedule", "fixed_batch", "full_data_digest", "label_schedule",
    "next_batch", "parse_cost_model", "read_targets", "simulate", "train_and_evaluate",
    "write_rounds", "write_targets",
]


def __getattr__(name: str) -> Any:
    """A public name, its module imported now (see the module docstring)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
