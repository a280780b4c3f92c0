"""``dcctl apply``: converge hosts to a playbook; ``--dry-run`` shows the plan and stops."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dcctl.cli.state import State
from dcctl.errors import ExitCode, InputError
from dcctl.render.output import Output
from dcctl.transport.base import Transport


def apply(
    ctx: typer.Context,
    playbook_file: Annotated[Path, typer.Argument(metavar="PLAYBOOK", help="Playbook file.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the changes and stop (exit 2 if any).")
    ] = False,
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
        Path, typer.Option("--state-dir", help="Where locks and run journals live.")
    ] = Path(".dcctl"),
) -> None:
    """Converge hosts to a playbook: plan (read only), show, ask, then apply in batches.

    Exit status: dry-run 0 (nothing to change) or 2 (changes pending); apply 0, or 3 when a
    host failed, or 4 when another apply holds the inventory's lock.
    """
    from dcctl.playbook.executor import apply_plan, resume_skip
    from dcctl.playbook.planner import plan_playbook
    from dcctl.playbook.schema import read_playbook
    from dcctl.render.plan import render_plan
    from dcctl.survey.fleet import make_transport
    from dcctl.transport.ssh import SshContext

    state: State = ctx.obj
    inventory = state.inventory()
    playbook = read_playbook(playbook_file)
    context = SshContext()

    def transport_for(host: str) -> Transport:
        return make_transport(inventory.hosts[host], context)

    skip = resume_skip(state_dir, resume) if resume else set()
    plan = plan_playbook(playbook, inventory, transport_for, limit=limit, forks=forks)
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
    if dry_run:
        if plan.failed:
            raise typer.Exit(int(ExitCode.HOSTS_FAILED))
        raise typer.Exit(int(ExitCode.CHANGES_PENDING if plan.pending else ExitCode.OK))
    if not plan.pending:
        if plan.failed:
            raise typer.Exit(int(ExitCode.HOSTS_FAILED))
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("not a terminal: pass --yes to apply without confirmation")
        if not typer.confirm(f"Apply {plan.pending} change(s)?", default=False):
            raise typer.Exit(int(ExitCode.OK))

    def health(hosts: list[str]) -> dict[str, set[str]]:
        """Warning-or-worse findings (and not-ok status) per host, from a quick probe."""
        from dcctl.checks.findings import Severity
        from dcctl.probes.registry import select_probes
        from dcctl.survey.fleet import ProbeOptions, probe_fleet

        reports = probe_fleet(
            inventory, hosts, select_probes(["gpu", "storage"]), ProbeOptions(forks=forks),
            context=SshContext(),
        )  # fmt: skip
        out: dict[str, set[str]] = {}
        for report in reports:
            codes = {f.code for f in report.findings if f.severity >= Severity.warning}
            if report.status.value != "ok":
                codes.add(report.status.value)
            out[report.host] = codes
        return out

    result = apply_plan(
        plan, playbook, inventory, transport_for, state_dir=state_dir, run_id=resume,
        batch_by=batch_by, max_fail_percent=max_fail_percent, forks=forks, skip=skip,
        health=health if health_gate else None,
    )  # fmt: skip
    context.close()
    for host in result.hosts:
        if host.status != "done":
            state.err.print(f"{escape(host.host)}: {host.status} {escape(host.error or '')}")
    if result.stopped:
        state.err.print(f"[red]{escape(result.stopped)}[/red]")
    done = sum(1 for h in result.hosts if h.status == "done")
    state.note(f"run {result.run_id}: {done} host(s) done, {len(result.failed)} failed")
    if result.failed or result.stopped:
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
