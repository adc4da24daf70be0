"""Helpers shared by the tests (importable as `support`: pyproject sets pythonpath)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
