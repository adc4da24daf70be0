"""Reporting, presentation only: the report (HTML, PNG, CSV), status, export, and the
comparison of simulate's results. The decisions it shows are made below it (quality/,
loop/stopping.py)."""
