"""Building the consoles dcctl prints to, honouring --no-color, NO_COLOR and non-TTY output."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.table import Table

#: Width used when output is not a terminal and COLUMNS is unset, so pipes get unwrapped lines.
PIPE_WIDTH = 250


def make_console(
    *, stderr: bool = False, no_color: bool = False, file: IO[str] | None = None
) -> Console:
    """A Console: colour only on a terminal, never with --no-color or NO_COLOR set."""
    no_color = no_color or bool(os.environ.get("NO_COLOR"))
    console = Console(
        stderr=stderr,
        file=file,
        no_color=no_color,
        highlight=False,
        emoji=False,
    )
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(
            stderr=stderr,
            file=file,
            no_color=no_color,
            highlight=False,
            emoji=False,
            width=PIPE_WIDTH,
        )
    return console


def new_table(console: Console, *columns: str, title: str | None = None) -> Table:
    """A table styled for the console: boxed on a terminal, plain columns in a pipe."""
    table = Table(
        *columns,
        title=title,
        box=box.ROUNDED if console.is_terminal else box.SIMPLE_HEAD,
        header_style="bold" if console.is_terminal else "",
        show_edge=console.is_terminal,
        pad_edge=console.is_terminal,
    )
    return table


def write_json(console: Console, data: Any, *, one_item_per_line: bool = False) -> None:
    """Write one JSON document to the console's file, bypassing Rich markup.

    Indented by default; with ``one_item_per_line`` a list is written one compact item per
    line, which stays readable and is ~5× cheaper to encode for hundreds of large items.
    """
    if one_item_per_line and isinstance(data, list):
        items = ",\n".join(json.dumps(item, default=str) for item in data)
        console.file.write(f"[\n{items}\n]\n" if data else "[]\n")
    else:
        console.file.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    console.file.flush()


def write_jsonl(console: Console, records: Iterable[Any]) -> None:
    """Write one compact JSON object per line."""
    for record in records:
        console.file.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    console.file.flush()
