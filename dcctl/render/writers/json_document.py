"""``-o json``: one JSON document with its schema, indented (lists of objects one per line)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from dcctl.render.output import Output
from dcctl.render.writers.base import register


class JsonWriter:
    """The whole result as one JSON object."""

    name = "json"
    help = "one JSON document (schema in docs/json.md)"
    machine = True

    def write(self, console: Console, output: Output) -> None:
        """Write the document, bypassing Rich markup."""
        console.file.write(dumps_document(output.json_document()) + "\n")
        console.file.flush()


def dumps_document(document: dict[str, Any]) -> str:
    """Indented JSON, except that a long list of objects is written one compact object per line.

    That stays readable and is ~5× cheaper to encode for hundreds of large host documents.
    """
    bulky = {
        key
        for key, value in document.items()
        if isinstance(value, list) and len(value) > 20 and all(isinstance(v, dict) for v in value)
    }
    if not bulky:
        return json.dumps(document, indent=2, default=str)
    parts = []
    for key, value in document.items():
        if key in bulky:
            items = ",\n    ".join(json.dumps(item, default=str) for item in value)
            parts.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        else:
            text = json.dumps(value, indent=2, default=str).replace("\n", "\n  ")
            parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}"


register(JsonWriter())
