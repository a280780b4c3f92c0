"""``dcctl health``: verdicts an SRE can act on, in the formats monitoring already reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dcctl.cli.probe_cmd import collect_reports
from dcctl.cli.state import State
from dcctl.errors import ExitCode, InputError
from dcctl.render.output import Output

if TYPE_CHECKING:
    from dcctl.checks.policy import HealthPolicy
    from dcctl.probes.gather import HostReport
    from dcctl.scheduler.scope import SlurmScope
    from dcctl.survey.health import FleetHealth

HEALTH_PROBES = "gpu,nvlink,network,system,storage"


app = typer.Typer(
    name="health",
    help="Verdicts an SRE can act on: ok / warning / critical / unknown, with actions.",
    invoke_without_command=True,
)
baseline_app = typer.Typer(
    name="baseline", help="The known-good state of hosts.", no_args_is_help=True
)
app.add_typer(baseline_app)


@app.callback()
def health(
    ctx: typer.Context,
    limit: Annotated[
        str | None, typer.Option("-l", "--limit", metavar="PATTERN", help="Host selection.")
    ] = None,
    probes: Annotated[
        str, typer.Option("-p", "--probe", metavar="NAMES", help="Probes to run.")
    ] = HEALTH_PROBES,
    forks: Annotated[int, typer.Option("-f", "--forks", min=1, help="Hosts at once.")] = 64,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.5, help="Cap on each command's time on a host (s)."),
    ] = None,
    deadline: Annotated[
        float | None, typer.Option("--deadline", min=1, help="Give up on the whole run after S s.")
    ] = None,
    from_bundle: Annotated[
        Path | None,
        typer.Option("--from-bundle", metavar="DIR", help="Judge a saved bundle, offline."),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", metavar="FILE", help="The site's overrides per rule and hosts."),
    ] = None,
    explain: Annotated[
        str | None,
        typer.Option("--explain", metavar="RULE", help="What a rule finds, its source, overrides."),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", metavar="FILE", help="Report drift from a saved baseline."),
    ] = None,
    outliers: Annotated[
        bool,
        typer.Option(
            "--outliers/--no-outliers", help="Compare each GPU with its peers (same profile)."
        ),
    ] = True,
    textfile: Annotated[
        Path | None,
        typer.Option(
            "--prometheus-textfile",
            metavar="PATH.prom",
            help="Also write the metrics for node_exporter's textfile collector (atomically).",
        ),
    ] = None,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain",
            help="Close the loop in Slurm: drain hosts whose findings call for it, resume "
            "dcctl's drains after N healthy runs (journalled).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="With --drain: show Slurm actions, change nothing."),
    ] = False,
    resume_after: Annotated[
        int | None,
        typer.Option(
            "--resume-after",
            min=1,
            metavar="N",
            help="Healthy runs in a row before a resume (default: scheduler.resume_after).",
        ),
    ] = None,
    local: Annotated[
        bool,
        typer.Option("--local", help="Check this machine itself (no SSH), as its inventory host."),
    ] = False,
    slurm: Annotated[
        bool,
        typer.Option(
            "--slurm",
            help="With --local: Slurm's HealthCheckProgram (drain/resume only this node, own "
            "reason, hard timeout, exit 0).",
        ),
    ] = False,
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            metavar="NAME",
            help="With --local: this node's Slurm name (default: $SLURMD_NODENAME, else hostname).",
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="Where the loop keeps its counts and journal "
            "(default: /var/lib/dcctl as root, else $XDG_STATE_HOME/dcctl).",
        ),
    ] = None,
) -> None:
    """Probe hosts, judge them (ok / warning / critical / unknown), say what to do.

    Exit status: 0 every host ok, 1 a warning or critical finding, 3 a host unreachable or
    unknown (3 wins). With -o nagios, the plugin convention: 0 OK, 1 WARNING, 2 CRITICAL,
    3 UNKNOWN. With --drain, Slurm unreachable or an action that failed is 3 (nothing changed
    when Slurm could not be read). With --local --slurm, always 0 (Slurm blocks a node whose
    HealthCheckProgram fails at start): the outcome is the node's state in Slurm.
    """
    from dcctl.errors import InventoryError, InventoryNotFoundError
    from dcctl.render.health import render_health
    from dcctl.render.writers.prometheus import write_textfile
    from dcctl.survey.health import apply_outliers, cohorts, expected_gpus, judge_fleet, metrics

    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    if slurm and not local:
        raise InputError("--slurm is the HealthCheckProgram mode: use it with --local")
    if (dry_run or resume_after) and not (drain or slurm):
        raise InputError("--dry-run and --resume-after go with --drain (or --local --slurm)")
    if (drain or local) and from_bundle is not None:
        raise InputError("--drain and --local judge live hosts, not a bundle")
    if local and (limit or drain):
        raise InputError("--local checks this machine only: no --limit, no --drain (use --slurm)")
    if slurm:
        _watchdog(deadline or LOCAL_SLURM_DEADLINE_S, state)
    site_policy = _read_policy(state, policy)
    if explain is not None:
        _explain(state, explain, site_policy)
        return
    local_scope = None
    if local:
        reports, local_scope, elapsed = _probe_here(state, node, probes, timeout, slurm)
    else:
        reports, _, elapsed = collect_reports(
            state, limit, probes, forks, timeout, deadline, None, from_bundle
        )
    try:
        inventory = state.inventory()
        expected, cohort_of = expected_gpus(inventory), cohorts(inventory)
    except (InventoryError, InventoryNotFoundError):
        expected, cohort_of = {}, {}  # a bundle (or this node) judged without an inventory
    if outliers:
        apply_outliers(reports, cohort_of)
    if baseline is not None:
        from dcctl.checks.baseline import read_baseline
        from dcctl.survey.health import apply_baseline

        apply_baseline(reports, read_baseline(baseline))
    if site_policy is not None:
        for report in reports:
            report.findings = site_policy.apply(report.host, report.findings)
    fleet = judge_fleet(reports, elapsed, expected)
    if textfile is not None:
        write_textfile(textfile, metrics(fleet))
    state.emit(
        Output(
            "health",
            fleet.document,
            lambda console: render_health(console, fleet),
            records=lambda: (h.to_dict() for h in fleet.hosts),
            record_kind="health.host",
            status=fleet.status,
            metrics=lambda: metrics(fleet),
        )
    )
    loop_failed = False
    if drain or slurm:
        loop_failed = _close_loop(state, fleet, local_scope, state_dir, dry_run, resume_after)
    if slurm:
        raise typer.Exit(int(ExitCode.OK))
    if state.output == "nagios":  # Slurm not reached: UNKNOWN (3) unless already CRITICAL
        code = fleet.status().exit_code
        raise typer.Exit(3 if loop_failed and code != 2 else code)
    if loop_failed:
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
    counts = fleet.counts
    if counts["unknown"] or any(h.unknown for h in fleet.hosts):
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
    if counts["critical"] or counts["warning"]:
        raise typer.Exit(int(ExitCode.FINDINGS))


#: --local --slurm gives up after this long (Slurm kills a HealthCheckProgram at 60 s).
LOCAL_SLURM_DEADLINE_S = 50.0


def _watchdog(seconds: float, state: State) -> None:
    """Exit 0 after ``seconds`` whatever is still running: a health check never hangs slurmd."""
    import os
    import threading

    def fire() -> None:
        state.err.print(f"dcctl: health check gave up after {seconds:g} s (nothing more done)")
        os._exit(int(ExitCode.OK))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def _probe_here(
    state: State, node: str | None, probes: str, timeout: float | None, slurm: bool
) -> tuple[list[HostReport], SlurmScope, float]:
    """Probe this machine as its inventory host (found by Slurm node name)."""
    import os
    import socket
    import time

    from dcctl.cli.app import report_error
    from dcctl.errors import InventoryError, InventoryNotFoundError
    from dcctl.probes.registry import select_probes
    from dcctl.survey.fleet import probe_here
    from dcctl.survey.health_loop import local_scope

    name = node or os.environ.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]
    try:
        inventory = state.inventory()
    except InventoryNotFoundError:
        inventory = None  # a node without the inventory: built-in settings, no profile
    except InventoryError as exc:
        if not slurm:
            raise
        # As a HealthCheckProgram a broken inventory must not stop the check (slurmd would
        # not register the node): say so, and judge with the built-in settings.
        report_error(state, exc)
        inventory = None
    host, scope = local_scope(inventory, name)
    start = time.monotonic()
    chosen = select_probes(probes.split(","))
    report = probe_here(inventory, host, chosen, command_timeout=timeout)
    return [report], scope, time.monotonic() - start


def _close_loop(
    state: State,
    fleet: FleetHealth,
    scope: SlurmScope | None,
    state_dir: Path | None,
    dry_run: bool,
    resume_after: int | None,
) -> bool:
    """Drain / resume in Slurm from the verdicts; True when Slurm was not reached or failed."""
    from dcctl.playbook.lock import default_state_dir
    from dcctl.render.slurm import render_actions
    from dcctl.scheduler.actions import inventory_opener
    from dcctl.scheduler.scope import slurm_scopes
    from dcctl.scheduler.slurm_client import SlurmClient
    from dcctl.scheduler.slurm_nodes import SchedulerUnreachableError, SlurmOutputError
    from dcctl.survey.health_loop import close_the_loop

    if scope is not None:
        scopes = [scope]
        opener = lambda s: SlurmClient(timeout=min(s.timeout, 10.0))  # noqa: E731
    else:
        inventory = state.inventory()
        scopes = slurm_scopes(inventory, [h.host for h in fleet.hosts])
        opener = inventory_opener(inventory)
    try:
        actions, warnings = close_the_loop(scopes, opener, fleet, state_dir or default_state_dir(),
                                           act=not dry_run, resume_after=resume_after)  # fmt: skip
    except (SchedulerUnreachableError, SlurmOutputError) as exc:
        state.err.print(f"dcctl: {exc}: Slurm left as it was (unknown)", soft_wrap=True,
                        markup=False)  # fmt: skip
        return True
    for warning in warnings:
        state.err.print(f"dcctl: warning: {warning}", soft_wrap=True, markup=False)
    if not state.quiet or any(a.argv for a in actions):
        render_actions(state.err, actions)
    if dry_run:
        state.note(f"dry run: {sum(1 for a in actions if a.argv)} Slurm action(s) not taken")
    return any(a.outcome == "failed" for a in actions)


def _read_policy(state: State, path: Path | None) -> HealthPolicy | None:
    """The policy file, its host patterns checked against the inventory when there is one."""
    from dcctl.checks.policy import read_policy
    from dcctl.errors import InventoryError, InventoryNotFoundError

    if path is None:
        return None
    try:
        inventory = state.inventory()
    except (InventoryError, InventoryNotFoundError):
        inventory = None
    return read_policy(path, inventory)


def _explain(state: State, rule: str, policy: HealthPolicy | None) -> None:
    """Print a rule: what it finds, its source, its default rating, the site's overrides."""
    from dcctl.checks.rules import rule_ids, rule_info
    from dcctl.errors import InputError
    from dcctl.source.diagnostics import did_you_mean

    info = rule_info(rule)
    if info is None:
        raise InputError(f"--explain: no rule '{rule}'{did_you_mean(rule, rule_ids())}")
    lines = [
        f"{info.id}: {info.description}",
        f"  source: {info.source}",
        f"  default: {info.severity.name}, action {info.action.value}",
    ]
    for entry in policy.for_rule(rule) if policy is not None else []:
        change = "ignored" if entry.ignore else ", ".join(
            x for x in (entry.severity.name if entry.severity else "",
                        f"action {entry.action.value}" if entry.action else "") if x
        )  # fmt: skip
        where = f" on {entry.hosts_text}" if entry.hosts_text else ""
        note = f" ({entry.note})" if entry.note else ""
        lines.append(f"  site policy {entry.loc}: {change}{where}{note}")
    for line in lines:
        state.out.print(line, markup=False, soft_wrap=True)


@baseline_app.command("save")
def save_baseline(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write it.")] = Path(
        "dcctl-baseline.json"
    ),
    limit: Annotated[
        str | None, typer.Option("-l", "--limit", metavar="PATTERN", help="Host selection.")
    ] = None,
    forks: Annotated[int, typer.Option("-f", "--forks", min=1, help="Hosts at once.")] = 64,
    from_bundle: Annotated[
        Path | None,
        typer.Option("--from-bundle", metavar="DIR", help="From a saved bundle, offline."),
    ] = None,
) -> None:
    """Record each host's known-good state (GPUs by slot, firmware, links, lifetime counters).

    Hosts already in FILE and not probed now keep their entry. Exit 3 when a host could not be
    read (it is left out, never recorded half).
    """
    import json

    from dcctl.checks.baseline import baseline_document, host_baseline, read_baseline
    from dcctl.transport.fanout import HostStatus

    state: State = ctx.obj
    reports, _, _ = collect_reports(
        state, limit, HEALTH_PROBES, forks, None, None, None, from_bundle
    )
    entries = read_baseline(file) if file.exists() else {}
    missed = []
    for report in reports:
        if report.status is HostStatus.ok and not report.unknown:
            entries[report.host] = host_baseline(report.results)
        else:
            missed.append(report.host)
    file.write_text(json.dumps(baseline_document(entries), indent=1) + "\n")
    state.note(f"{file}: {len(reports) - len(missed)} host(s) recorded, {len(entries)} in all")
    if missed:
        state.err.print(f"not recorded (not read in full): {', '.join(missed)}", soft_wrap=True)
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
