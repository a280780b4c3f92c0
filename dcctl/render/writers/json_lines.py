"""``-o jsonl``: one compact JSON object per line, each with its schema (for streams and jq)."""

from __future__ import annotations

import json

from rich.console import Console

from dcctl.render.output import Output
from dcctl.render.writers.base import register


class JsonLinesWriter:
    """The result's records, one per line."""

    name = "jsonl"
    help = "one JSON object per line (schema in docs/json.md)"
    machine = True

    def write(self, console: Console, output: Output) -> None:
        """Write each record on its own line, bypassing Rich markup."""
        for record in output.json_records():
            console.file.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        console.file.flush()


register(JsonLinesWriter())
