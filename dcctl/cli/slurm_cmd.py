"""``dcctl drain`` / ``dcctl resume`` / ``dcctl slurm status``: hosts in the Slurm that runs them.

Dry-run by default (exit 0 nothing to do, 2 actions pending, as ``apply --dry-run``); ``--yes``
acts. Where Slurm's clients run, each host's node name and the reason prefix come from the
inventory's ``scheduler:`` section (default: here, the inventory name, ``dcctl:``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dcctl.cli.state import State
from dcctl.errors import ExitCode
from dcctl.render.output import Output

if TYPE_CHECKING:
    from dcctl.scheduler.actions import HostAction

_LIMIT = typer.Option("-l", "--limit", metavar="PATTERN", help="Hosts (required).")
_YES = typer.Option("-y", "--yes", help="Act (without it: show what would be done, exit 2).")
_STATE_DIR = typer.Option(
    "--state-dir", help="Where dcctl keeps state (default: /var/lib/dcctl as root, else "
    "$XDG_STATE_HOME/dcctl)."
)  # fmt: skip

app = typer.Typer(name="slurm", help="Hosts in Slurm: state, jobs, dcctl's drains.",
                  no_args_is_help=True)  # fmt: skip


def drain(
    ctx: typer.Context,
    limit: Annotated[str, _LIMIT],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (prefixed with 'dcctl:').")
    ],
    yes: Annotated[bool, _YES] = False,
) -> None:
    """Drain hosts in Slurm with dcctl's reason; an admin's drain is left alone."""
    from dcctl.scheduler.actions import drain_hosts

    state: State = ctx.obj
    inventory = state.inventory()
    hosts = list(inventory.select(limit))
    _report(state, drain_hosts(inventory, hosts, reason, act=yes), yes)


def resume(
    ctx: typer.Context,
    limit: Annotated[str, _LIMIT],
    force: Annotated[
        bool, typer.Option("--force", help="Also resume drains dcctl did not make (says whose).")
    ] = False,
    yes: Annotated[bool, _YES] = False,
) -> None:
    """Return hosts to service, only those dcctl drained (unless --force)."""
    from dcctl.scheduler.actions import resume_hosts

    state: State = ctx.obj
    inventory = state.inventory()
    hosts = list(inventory.select(limit))
    _report(state, resume_hosts(inventory, hosts, force=force, act=yes), yes)


def _report(state: State, actions: list[HostAction], yes: bool) -> None:
    from dcctl.render.slurm import render_actions

    pending = [a for a in actions if a.argv is not None]
    failed = [a for a in actions if a.outcome == "failed"]
    state.emit(
        Output(
            "slurm.actions",
            lambda: {"act": yes, "pending": 0 if yes else len(pending),
                     "failed": len(failed), "actions": [a.to_dict() for a in actions]},
            lambda console: render_actions(console, actions),
            records=lambda: (a.to_dict() for a in actions),
            record_kind="slurm.action",
        )
    )  # fmt: skip
    if not yes:
        state.note(f"dry run: {len(pending)} action(s) pending; --yes to act")
        raise typer.Exit(int(ExitCode.CHANGES_PENDING if pending else ExitCode.OK))
    state.note(f"{len(pending) - len(failed)} of {len(pending)} action(s) done")
    if failed:
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))


@app.command("status")
def status(
    ctx: typer.Context,
    limit: Annotated[
        str | None, typer.Option("-l", "--limit", metavar="PATTERN", help="Host selection.")
    ] = None,
    state_dir: Annotated[Path | None, _STATE_DIR] = None,
) -> None:
    """Each host's Slurm state, flags, reason, GPUs in use and jobs, with dcctl's last verdict.

    Exit status: 0; 3 when Slurm could not be read (or a host is not a Slurm node).
    """
    from dcctl.playbook.lock import default_state_dir
    from dcctl.render.slurm import render_status
    from dcctl.scheduler.status import slurm_status
    from dcctl.survey.health_loop import last_verdicts

    state: State = ctx.obj
    inventory = state.inventory()
    hosts = list(inventory.select(limit))
    memory = last_verdicts(state_dir or default_state_dir())
    verdicts = {h: (m.verdict, m.at) for h, m in memory.items()}
    states = slurm_status(inventory, hosts, verdicts)
    state.emit(
        Output(
            "slurm.status",
            lambda: {"hosts": [s.to_dict() for s in states]},
            lambda console: render_status(console, states),
            records=lambda: (s.to_dict() for s in states),
            record_kind="slurm.node",
        )
    )
    if any(s.node is None for s in states):
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
