"""The command line (`activelearn`, entry point `activelearn.cli:main`).

base.py holds the group, --config, loading the project and the error handling; loop.py
the labelling loop's commands (init, cycle, demo, bot); simulate.py the offline
experiment; pretrain.py self-supervised pretraining on the pool; ops.py the operating
ones (worker, status, report, clean, ingest, export, serve); maintenance.py the
project's upkeep (upgrade, backup, restore).
"""

from activelearn.cli.interrupt import guard_startup

guard_startup()  # the program only: a Ctrl-C during the imports below exits 130, one line

from activelearn.cli import loop, maintenance, ops, pretrain, simulate  # noqa: E402, F401  (importing them registers the commands)
from activelearn.cli.base import main  # noqa: E402

__all__ = ["main"]
