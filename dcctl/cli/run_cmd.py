"""``dcctl run -l PATTERN -- CMD ARG...``: one command on many hosts, output gathered.

Exit status: 0 every host ran it with exit status 0; 1 it failed somewhere (rc ≠ 0); 3 a host
was not reached or timed out (3 wins); 64 bad input; 130 Ctrl-C.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dcctl.cli.state import State
from dcctl.errors import ExitCode, InputError
from dcctl.render.output import Output


def run(
    ctx: typer.Context,
    command: Annotated[
        list[str] | None,
        typer.Argument(metavar="-- CMD [ARG...]", help="The command, after --, as words."),
    ] = None,
    limit: Annotated[
        str, typer.Option("-l", "--limit", metavar="PATTERN", help="Hosts (required).")
    ] = "",
    shell: Annotated[
        str | None,
        typer.Option("--shell", metavar="SCRIPT", help="Run a shell pipeline (explicit opt-in)."),
    ] = None,
    forks: Annotated[int, typer.Option("-f", "--forks", min=1, help="Hosts at once.")] = 64,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, metavar="S", help="Per host.")
    ] = None,
    deadline: Annotated[
        float | None, typer.Option("--deadline", min=1, metavar="S", help="The whole run.")
    ] = None,
    become_: Annotated[
        str | None, typer.Option("--become", metavar="sudo", help="Run it through sudo -n.")
    ] = None,
    lines: Annotated[
        bool, typer.Option("--lines", help="Each line prefixed with its host (pdsh style).")
    ] = False,
) -> None:
    """Run one command on many hosts; each distinct output once, under its hosts."""
    from dcctl.model.command import Command
    from dcctl.render.progress import ProgressDisplay
    from dcctl.render.run import render_gathered, render_lines
    from dcctl.survey.adhoc import become, run_command

    state: State = ctx.obj
    if not limit:
        raise InputError("dcctl run needs -l PATTERN (the hosts to run on)")
    if become_ not in (None, "sudo"):
        raise InputError(f"--become '{become_}': dcctl runs commands through sudo only")
    words = list(command or [])
    if shell is not None:
        if words:
            raise InputError("give the command after --, or a script with --shell, not both")
        cmd = Command.script(shell)
    elif not words:
        raise InputError("no command: dcctl run -l PATTERN -- CMD ARG... (or --shell 'a | b')")
    elif "--" not in getattr(ctx.find_root().command, "raw_args", ["--"]):
        raise InputError(f"put -- before the command: dcctl run -l {limit} -- {' '.join(words)}")
    else:
        cmd = Command.of(words)
    cmd = become(cmd, become_)
    inventory = state.inventory()
    hosts = list(inventory.select(limit))
    with ProgressDisplay(state.err, len(hosts), "running") as progress:
        results = run_command(inventory, hosts, cmd, forks=forks, timeout=timeout,
                              deadline_s=deadline, listener=progress)  # fmt: skip
    view = render_lines if lines else render_gathered
    state.emit(
        Output(
            "run",
            lambda: {"command": list(cmd.argv), "hosts": [r.to_dict() for r in results]},
            lambda console: view(console, state.err, results),
            records=lambda: (r.to_dict() for r in results),
            record_kind="run.host",
        )
    )
    if any(not r.reached for r in results):
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
    if any(r.rc for r in results):
        raise typer.Exit(int(ExitCode.FINDINGS))
