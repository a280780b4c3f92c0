"""Plain aligned columns: what a long table is in a pipe (fast, never cut, easy to ``awk``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console


def print_columns(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Headers and rows, columns padded to their widest cell, two spaces apart; nothing cut.

    Cells are written as they are (no Rich markup is read in them) with control characters
    shown as ``?`` so a hostile value cannot move the cursor or forge a line.
    """
    table = [list(headers), *([_clean(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    out = []
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        out.append("  ".join(cells).rstrip())
    console.file.write("\n".join(out) + "\n")
    console.file.flush()


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)
