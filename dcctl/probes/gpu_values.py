"""Converting nvidia-smi's text values: units, ``[N/A]``, ``[Not Supported]`` and friends."""

from __future__ import annotations

import re

_MISSING = {
    "",
    "n/a",
    "[n/a]",
    "not supported",
    "[not supported]",
    "unknown error",
    "[unknown error]",
    "[gpu is lost]",
    "gpu is lost",
    "none",
    "[insufficient permissions]",
    "requested functionality has been deprecated",
}
_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?")


def missing(value: str | None) -> bool:
    """True for the ways nvidia-smi says a value is not available."""
    return value is None or value.strip().lower() in _MISSING


def text(value: str | None) -> str | None:
    """A string value, or None when not available."""
    if value is None:
        return None
    stripped = value.strip()
    if not stripped or (stripped[0] in "[NnURrG" and stripped.lower() in _MISSING):
        return None
    return stripped


def number(value: str | None) -> float | None:
    """The leading number of a value such as ``69.84 W``, ``81559 MiB``, ``34 C``, ``16x``."""
    raw = text(value)
    m = _NUMBER.match(raw) if raw is not None else None
    return float(m.group(0)) if m else None


def integer(value: str | None) -> int | None:
    """An integer value (hex such as ``0x0000000000000001`` allowed)."""
    raw = text(value)
    if raw is None:
        return None
    if raw.lower().startswith("0x"):
        try:
            return int(raw, 16)
        except ValueError:
            return None
    m = _NUMBER.match(raw)
    return int(float(m.group(0))) if m else None


def flag(value: str | None) -> bool | None:
    """Enabled/Disabled, Yes/No, Active/Not Active, On/Off, 1/0 → bool."""
    raw = text(value)
    if raw is None:
        return None
    raw = raw.lower()
    if raw in ("enabled", "yes", "active", "on", "1", "true"):
        return True
    if raw in ("disabled", "no", "not active", "off", "0", "false"):
        return False
    return None
