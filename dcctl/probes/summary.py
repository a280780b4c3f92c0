"""One-line summaries of probe results (to fold identical hosts), and host JSON documents."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from dcctl.probes.gather import HostReport
from dcctl.probes.registry import PROBES


def summarize(name: str, result: Any) -> str:
    """The summary line of one probe's result (the probe's own :meth:`summarize`)."""
    return PROBES[name].summarize(result)


_SCALARS = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """Dataclasses, lists and dicts as JSON-ready data (like ``asdict``, without deep copies)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(f.name for f in fields(value))
        out = {name: getattr(value, name) for name in names}
        for name, item in out.items():
            if not isinstance(item, _SCALARS):
                out[name] = plain(item)
        return out
    return value


_FIELDS: dict[type, tuple[str, ...]] = {}


def report_document(report: HostReport) -> dict[str, Any]:
    """One host's JSON document: status, results, findings, errors, timings."""
    return {
        "host": report.host,
        "status": report.status.value,
        "results": {k: plain(v) for k, v in report.results.items()},
        "findings": [f.to_dict() for f in report.findings],
        "errors": report.errors,
        "timings": report.timings,
    }
