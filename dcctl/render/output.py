"""A command's result as a value that any output writer can render.

Commands build an :class:`Output` (the JSON document, the JSON-lines records, the view for
people) and hand it to the CLI's one ``emit()``; the writer chosen with ``-o`` renders it. Every
JSON document and every JSON line carries ``"schema": "dcctl.<kind>/1"`` (see docs/json.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from dcctl.model.monitoring import Metric, Status

#: Version of every schema below; bumped for a kind when a field changes meaning or goes away.
SCHEMA_VERSION = 1


def schema_id(kind: str) -> str:
    """``dcctl.<kind>/<version>``: what a JSON consumer checks before reading fields."""
    return f"dcctl.{kind}/{SCHEMA_VERSION}"


def with_schema(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The document with its ``schema`` field first."""
    return {"schema": schema_id(kind), **data}


@dataclass(frozen=True)
class Output:
    """One command's result, ready for the table, json and jsonl writers (and any other).

    ``document`` is the whole result as one JSON object (``kind`` names its schema);
    ``records`` are the JSON-lines view, one object per line (``record_kind`` names theirs), by
    default the document itself on one line; ``view`` draws the result for people.
    """

    kind: str
    document: Callable[[], dict[str, Any]]
    view: Callable[[Console], None]
    records: Callable[[], Iterable[dict[str, Any]]] | None = None
    record_kind: str | None = None
    #: For monitoring writers: a check's status (nagios) and metric families (prometheus).
    status: Callable[[], Status] | None = None
    metrics: Callable[[], list[Metric]] | None = None

    def json_document(self) -> dict[str, Any]:
        """The document with its schema."""
        return with_schema(self.kind, self.document())

    def json_records(self) -> Iterable[dict[str, Any]]:
        """The JSON-lines records, each with its schema."""
        if self.records is None:
            yield self.json_document()
            return
        kind = self.record_kind or self.kind
        for record in self.records():
            yield with_schema(kind, record)
