"""The command line (`activelearn`, entry point `activelearn.cli:main`).

base.py holds the group, --config and the error handling; loop.py the labelling loop's
commands (simulate, init, cycle, demo, bot); ops.py the operating ones (worker, status,
report, clean, export).
"""

from activelearn.cli import loop, ops  # noqa: F401  (importing them registers the commands)
from activelearn.cli.base import main

__all__ = ["main"]
