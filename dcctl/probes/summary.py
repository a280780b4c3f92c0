"""One-line summaries of probe results (to fold identical hosts); host JSON documents out and in."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from dcctl.errors import InputError
from dcctl.probes.base import registered
from dcctl.probes.gather import HostReport
from dcctl.probes.registry import PROBES  # noqa: F401  (the built-in probes register)


def summarize(name: str, result: Any) -> str:
    """The summary line of one probe's result (the probe's own :meth:`summarize`)."""
    return registered()[name].summarize(result)


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
        "unknown": report.unknown,
        "timings": report.timings,
    }


def probe_documents(path: Path, option: str) -> list[dict[str, Any]]:
    """The host documents of ``dcctl probe`` output, as written with any machine format.

    ``-o json`` (``dcctl.probe/1``, or the bare list older releases wrote) or ``-o jsonl`` (one
    ``dcctl.probe.host/1`` per line). Anything else is an InputError naming ``option``.
    """
    try:
        text = path.read_text()
        try:
            documents: Any = json.loads(text)
        except json.JSONDecodeError:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{option} {path}: not dcctl probe JSON ({exc})") from None
    if isinstance(documents, dict) and "hosts" in documents and "host" not in documents:
        documents = documents["hosts"]
    if isinstance(documents, dict):
        documents = [documents]
    if not isinstance(documents, list) or not all(
        isinstance(doc, dict) and "host" in doc for doc in documents
    ):
        raise InputError(f"{option} {path}: expected dcctl probe JSON documents")
    return documents
