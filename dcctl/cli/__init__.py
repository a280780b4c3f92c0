"""The ``dcctl`` command line: a thin layer over the library (one Typer group per module)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Sequence

from dcctl.cli import (
    apply_cmd,
    health_cmd,
    inventory_cmd,
    nodeset_cmd,
    plan_cmd,
    probe_cmd,
    run_cmd,
    slurm_cmd,
    top_cmd,
    validate_cmd,
)
from dcctl.cli.app import app

app.add_typer(inventory_cmd.app)
app.add_typer(plan_cmd.app)
app.add_typer(health_cmd.app)
app.add_typer(slurm_cmd.app)
app.command()(probe_cmd.probe)
app.command(context_settings={"allow_interspersed_args": False})(run_cmd.run)
app.command()(apply_cmd.apply)
app.command()(validate_cmd.validate)
app.command()(nodeset_cmd.nodeset)
app.command()(top_cmd.top)
app.command()(slurm_cmd.drain)
app.command()(slurm_cmd.resume)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code.

    When work was abandoned at a deadline (a host stuck in a connect or a read), its threads
    are still alive; the process then exits at once instead of waiting for them, so
    ``--deadline`` bounds the whole process and not only the result.
    """
    try:
        app(args=argv, prog_name="dcctl")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if any(t.name.startswith("dcctl") and t.is_alive() for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    return code


__all__ = ["app", "main"]
