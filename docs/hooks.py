"""MkDocs hook: the committed configuration reference must be the page the config
dataclasses generate. A stale page is a warning, so `mkdocs build --strict` fails."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from activelearn.config.reference import PAGE, render

log = logging.getLogger("mkdocs.hooks.reference")


def on_pre_build(config: Any) -> None:
    page = Path(config["config_file_path"]).parent / PAGE
    try:
        generated = render()
    except ValueError as exc:  # a key without a description, an entry without a key
        log.warning(f"cannot generate {PAGE}: {exc}")
        return
    if not page.exists() or page.read_text() != generated:
        log.warning(f"{PAGE} is not the generated reference: run "
                    f".venv/bin/python -m activelearn.config.reference > {PAGE}")
