"""The command line (`activelearn`, entry point `activelearn.cli:main`).

base.py holds the group, --config, loading the project and the error handling; loop.py
the labelling loop's commands (init, cycle, demo, bot); simulate.py the offline
experiment; pretrain.py self-supervised pretraining on the pool; ops.py the operating
ones (worker, status, report, clean, ingest, export, serve); maintenance.py the
project's upkeep (upgrade, backup, restore).
"""

from activelearn.cli import loop, maintenance, ops, pretrain, simulate  # noqa: F401  (importing them registers the commands)
from activelearn.cli.base import main

__all__ = ["main"]
