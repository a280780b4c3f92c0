"""``-o table``: the view for people (Rich tables and trees; plain text in a pipe)."""

from __future__ import annotations

from rich.console import Console

from dcctl.render.output import Output
from dcctl.render.writers.base import register


class TableWriter:
    """Draws the output's own view."""

    name = "table"
    help = "tables for people (plain text when not a terminal)"
    machine = False

    def write(self, console: Console, output: Output) -> None:
        """Draw the view."""
        output.view(console)


register(TableWriter())
