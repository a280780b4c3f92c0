"""``dcctl apply``: converge hosts to a playbook; ``--dry-run`` shows the plan and stops."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from dcctl.cli.state import State
from dcctl.errors import ExitCode, InputError
from dcctl.model.reasons import fold_reasons
from dcctl.render.output import Output
from dcctl.transport.base import Transport

if TYPE_CHECKING:
    from dcctl.playbook.events import Handler


def apply(
    ctx: typer.Context,
    playbook_file: Annotated[Path, typer.Argument(metavar="PLAYBOOK", help="Playbook file.")],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", "--check", help="Show the changes and stop (exit 2 if any)."),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option("--diff", help="Accepted for Ansible users: diffs are always shown."),
    ] = False,
    save_plan: Annotated[
        Path | None,
        typer.Option(
            "--save-plan",
            metavar="FILE",
            help="With --dry-run: write the plan shown, to apply later with --plan FILE.",
        ),
    ] = None,
    saved_plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            metavar="FILE",
            help="Apply exactly this saved plan: a change the host no longer matches is "
            "stale and not applied (exit 3).",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Apply without asking.")] = False,
    limit: Annotated[
        str | None, typer.Option("-l", "--limit", metavar="PATTERN", help="Only these hosts.")
    ] = None,
    batch_by: Annotated[
        str | None,
        typer.Option("--batch-by", help="rack, pdu, nvlink_domain, N hosts or N% per batch."),
    ] = None,
    max_fail_percent: Annotated[
        float, typer.Option("--max-fail-percent", min=0, max=100, help="Stop past this share.")
    ] = 0.0,
    resume: Annotated[
        str | None, typer.Option("--resume", metavar="RUN_ID", help="Continue an earlier run.")
    ] = None,
    forks: Annotated[int, typer.Option("-f", "--forks", min=1, help="Hosts at once.")] = 64,
    health_gate: Annotated[
        bool,
        typer.Option(
            "--health-gate/--no-health-gate",
            help="Probe each batch before and after; stop on a new warning or worse.",
        ),
    ] = True,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="Where locks and run journals live (default: /var/lib/dcctl as root, "
            "else $XDG_STATE_HOME/dcctl).",
        ),
    ] = None,
    drain_with: Annotated[
        str | None,
        typer.Option(
            "--drain-with",
            metavar="SCHEDULER",
            help="slurm: drain each batch first, wait for its jobs, resume it after the gate.",
        ),
    ] = None,
    drain_timeout: Annotated[
        float,
        typer.Option(
            "--drain-timeout",
            min=0,
            metavar="S",
            help="Longest wait for a batch's jobs to end (default 3600).",
        ),
    ] = 3600.0,
    on_drain_timeout: Annotated[
        str,
        typer.Option(
            "--on-drain-timeout",
            metavar="skip|stop",
            help="A host still busy then: skip it (drain undone) or stop the rollout.",
        ),
    ] = "skip",
) -> None:
    """Converge hosts to a playbook: plan (read only), show, ask, then apply in batches.

    Exit status: dry-run 0 (nothing to change) or 2 (changes pending); apply 0; 3 when a host
    could not be read or applied, or a change is stale (the host changed since the plan was
    shown or saved: not applied) (3 wins over 2); 4 when another apply holds the inventory's
    lock; 130 when interrupted (Ctrl-C: changes in flight finish, no new one starts).
    """
    from dcctl.playbook.executor import RolloutOptions, apply_plan, resume_skip
    from dcctl.playbook.journal import check_run_id
    from dcctl.playbook.lock import default_state_dir
    from dcctl.playbook.planner import plan_playbook
    from dcctl.playbook.saved import keep_saved, load_plan
    from dcctl.playbook.saved import save_plan as write_saved_plan
    from dcctl.playbook.schema import check_playbook, read_playbook
    from dcctl.render.plan import render_plan
    from dcctl.render.progress import RolloutProgress
    from dcctl.survey.fleet import make_transport
    from dcctl.survey.gate import gate_probe
    from dcctl.transport.ssh import SshContext

    del diff  # diffs are always part of the plan shown
    state: State = ctx.obj
    if drain_with not in (None, "slurm"):
        raise InputError(f"--drain-with '{drain_with}': the scheduler dcctl drains is 'slurm'")
    if on_drain_timeout not in ("skip", "stop"):
        raise InputError(f"--on-drain-timeout '{on_drain_timeout}': use skip or stop")
    if save_plan is not None and not dry_run:
        raise InputError("--save-plan writes the plan a --dry-run shows: add --dry-run")
    if saved_plan is not None and (dry_run or limit):
        raise InputError("--plan applies a saved plan as it was made: no --dry-run, no --limit")
    inventory = state.inventory()
    playbook = read_playbook(playbook_file)
    check_playbook(playbook, inventory)  # before any host is contacted
    saved = load_plan(saved_plan, playbook, inventory) if saved_plan is not None else None
    if saved is not None:
        limit = saved.limit
    context = SshContext()

    def transport_for(host: str) -> Transport:
        return make_transport(inventory.hosts[host], context)

    state_dir = state_dir or default_state_dir()
    skip: set[str] = set()
    if resume:
        skip, warnings = resume_skip(state_dir, check_run_id(resume), playbook, inventory)
        for warning in warnings:
            state.err.print(f"[yellow]{escape(warning)}[/yellow]", soft_wrap=True)
    plan = plan_playbook(playbook, inventory, transport_for, limit=limit, forks=forks)
    if saved is not None:
        plan = keep_saved(plan, saved)
    if save_plan is not None:
        write_saved_plan(save_plan, plan, playbook, inventory, limit)
    state.emit(
        Output(
            "apply.plan",
            plan.to_dict,
            lambda console: render_plan(console, plan),
            records=lambda: plan.to_dict()["hosts"],
            record_kind="apply.host",
        )
    )
    # A host that could not be read is never "as desired": 3 wins over 2 (changes pending).
    if save_plan is not None:
        state.note(f"plan saved to {save_plan}: apply it with --plan {save_plan}")
    if dry_run:
        if plan.failed:
            raise typer.Exit(int(ExitCode.HOSTS_FAILED))
        raise typer.Exit(int(ExitCode.CHANGES_PENDING if plan.pending else ExitCode.OK))
    if not plan.pending:
        if plan.failed or plan.stale:
            raise typer.Exit(int(ExitCode.HOSTS_FAILED))
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("not a terminal: pass --yes to apply without confirmation")
        if not typer.confirm(f"Apply {plan.pending} change(s)?", default=False):
            state.err.print("nothing was applied")
            raise typer.Exit(int(ExitCode.OK))

    options = RolloutOptions(
        state_dir, resume, batch_by=batch_by, max_fail_percent=max_fail_percent, forks=forks
    )
    total = sum(1 for h in plan.hosts if h.changes and h.host not in skip)
    steps: list[Handler] = []
    drain_step = None
    with interrupt_stops() as stop, RolloutProgress(state.err, total) as progress:
        if drain_with == "slurm":
            from dcctl.playbook.slurm_step import SlurmDrainStep

            drain_step = SlurmDrainStep(inventory, drain_timeout=drain_timeout, stop=stop,
                                        on_timeout=on_drain_timeout, context=context)  # fmt: skip
            steps.append(drain_step)
        result = apply_plan(
            plan, playbook, inventory, transport_for, options, skip=skip,
            health=gate_probe(inventory, forks) if health_gate else None, stop=stop,
            handlers=[*steps, progress],
        )  # fmt: skip
    context.close()
    if drain_step is not None:
        for hosts, why in fold_reasons(sorted(drain_step.still_drained.items())):
            state.err.print(f"[yellow]{escape(str(hosts))}: left drained in Slurm "
                            f"({escape(why)})[/yellow]", soft_wrap=True)  # fmt: skip
    not_done = [
        (h.host, f"{h.status} {plan.mask(h.error or '')}".strip())
        for h in result.hosts
        if h.status not in ("done", "skipped")
    ]
    for hosts, why in fold_reasons(not_done):
        state.err.print(f"{escape(str(hosts))}: {escape(why)}", soft_wrap=True)
    if result.stopped:
        state.err.print(f"[red]{escape(plan.mask(result.stopped))}[/red]", soft_wrap=True)
    done = sum(1 for h in result.hosts if h.status == "done")
    applied = sum(h.applied for h in result.hosts)
    state.note(
        f"run {result.run_id}: applied {applied} change(s); {done} host(s) done, "
        f"{len(result.unfinished)} not finished"
        + (f" (dcctl apply ... --resume {result.run_id} continues)" if result.unfinished else "")
    )
    if result.interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if result.unfinished or result.stopped or plan.stale:
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))


@contextmanager
def interrupt_stops() -> Iterator[threading.Event]:
    """Ctrl-C while applying: the first sets the returned event, the second quits at once.

    Once the event is set no new host or change starts and those in flight finish; a second
    Ctrl-C exits 130 at once, without a traceback.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread (tests call the CLI from others)
        return

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            os.write(2, b"\ndcctl: interrupted again: quitting now\n")
            os._exit(int(ExitCode.INTERRUPTED))
        stop.set()
        os.write(
            2,
            b"\ndcctl: interrupted: finishing the changes in flight, starting no new ones "
            b"(Ctrl-C again to quit at once)\n",
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
