"""``dcctl drain`` / ``dcctl resume``: take hosts out of Slurm and back, with owned reasons.

Dry-run by default (exit 0 nothing to do, 2 actions pending, as ``apply --dry-run``); ``--yes``
acts. Slurm's clients run where dcctl runs (``SLURM_CONF`` as usual); a host's Slurm node name
is its inventory name.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import typer
from rich.markup import escape

from dcctl.cli.state import State
from dcctl.errors import ExitCode
from dcctl.model.nodeset import NodeSet
from dcctl.scheduler.ownership import SchedulerAction, plan_drain, plan_resume
from dcctl.scheduler.slurm_client import read_nodes, run_slurm

_LIMIT = typer.Option("-l", "--limit", metavar="PATTERN", help="Hosts (required).")
_YES = typer.Option("-y", "--yes", help="Act (without it: show what would be done, exit 2).")


def drain(
    ctx: typer.Context,
    limit: Annotated[str, _LIMIT],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (prefixed with 'dcctl:').")
    ],
    yes: Annotated[bool, _YES] = False,
) -> None:
    """Drain hosts in Slurm with dcctl's reason; an admin's drain is left alone."""
    state: State = ctx.obj
    hosts = list(state.inventory().select(limit))
    _carry_out(state, plan_drain(read_nodes(), hosts, reason), yes)


def resume(
    ctx: typer.Context,
    limit: Annotated[str, _LIMIT],
    force: Annotated[
        bool, typer.Option("--force", help="Also resume drains dcctl did not make (says whose).")
    ] = False,
    yes: Annotated[bool, _YES] = False,
) -> None:
    """Return hosts to service, only those dcctl drained (unless --force)."""
    state: State = ctx.obj
    hosts = list(state.inventory().select(limit))
    _carry_out(state, plan_resume(read_nodes(), hosts, force=force), yes)


def _carry_out(state: State, actions: list[SchedulerAction], yes: bool) -> None:
    folded: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a in actions:
        folded[(a.action, a.why)].append(a.node)
    for (action, why), nodes in sorted(folded.items()):
        style = "dim" if action == "skip" else "bold"
        state.out.print(f"[{style}]{escape(str(NodeSet.from_names(nodes)))}: {action}[/{style}]"
                        f" {escape(why)}", soft_wrap=True)  # fmt: skip
    todo = [a for a in actions if a.argv is not None]
    if not yes:
        state.note(f"dry run: {len(todo)} action(s) pending; --yes to act")
        raise typer.Exit(int(ExitCode.CHANGES_PENDING if todo else ExitCode.OK))
    failed = 0
    for a in todo:
        assert a.argv is not None
        text, rc = run_slurm(a.argv)
        if rc != 0:
            failed += 1
            detail = (text.strip().splitlines() or ["timed out"])[0]
            state.err.print(f"[red]{escape(a.node)}: {a.action} failed: {escape(detail)}[/red]")
    state.note(f"{len(todo) - failed} of {len(todo)} action(s) done")
    if failed:
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
