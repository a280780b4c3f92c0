"""Shared test set-up: no test writes dcctl state outside its own temporary directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory, monkeypatch):
    """Locks and journals of every test go to a fresh folder, never /var/lib/dcctl or ~."""
    monkeypatch.setenv("DCCTL_STATE_DIR", str(tmp_path_factory.mktemp("dcctl-state")))
