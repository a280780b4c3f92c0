"""Import paramiko without importing ``invoke`` (about 130 ms of every dcctl start-up).

paramiko imports ``invoke`` at start-up for one rare thing: ``Match exec`` in ``~/.ssh/config``.
Until something uses it, ``invoke`` is a stand-in module that imports the real one on first
attribute access, so a config with ``Match exec`` still works exactly as before.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _LazyModule(types.ModuleType):
    """Stands in for ``invoke`` in ``sys.modules`` until first used."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("invoke") is self:
            del sys.modules["invoke"]
        real = importlib.import_module("invoke")
        return getattr(real, name)


def install() -> None:
    """Put the stand-in in place unless ``invoke`` (or paramiko) is already imported."""
    if "invoke" not in sys.modules and "paramiko" not in sys.modules:
        sys.modules["invoke"] = _LazyModule("invoke")
