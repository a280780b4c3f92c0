"""The ``dcctl`` command line: a thin layer over the library (one Typer group per module)."""

from __future__ import annotations

from collections.abc import Sequence

from dcctl.cli import apply_cmd, inventory_cmd, plan_cmd, probe_cmd
from dcctl.cli.app import app

app.add_typer(inventory_cmd.app)
app.add_typer(plan_cmd.app)
app.command()(probe_cmd.probe)
app.command()(apply_cmd.apply)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    try:
        app(args=argv, prog_name="dcctl")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


__all__ = ["app", "main"]
