"""Reporting: the report (HTML, PNG, CSV), status, export, and the results of simulate."""
