"""Building the consoles dcctl prints to, honouring --no-color, NO_COLOR and non-TTY output."""

from __future__ import annotations

import os
from typing import IO

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
