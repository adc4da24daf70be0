"""Fixtures of the integration tests (real Label Studio, Redis, worker processes)."""

from __future__ import annotations

import pytest


@pytest.fixture
def ls_env(label_studio, monkeypatch):
    """The test server's URL and token in the environment, as a user would set them."""
    monkeypatch.setenv("ACTIVELEARN_LS_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    return label_studio
