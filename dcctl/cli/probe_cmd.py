"""``dcctl probe``: read GPUs, networks, system, storage and security posture of hosts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dcctl.checks.findings import Severity
from dcctl.cli.state import State
from dcctl.errors import ExitCode, InventoryError, InventoryNotFoundError
from dcctl.render.output import Output

if TYPE_CHECKING:
    from dcctl.probes.gather import HostReport

#: Probe names, for the help text (the probe modules load only when the command runs).
PROBE_NAMES = ("gpu", "nvlink", "network", "system", "storage", "security")


def probe(
    ctx: typer.Context,
    limit: Annotated[
        str | None, typer.Option("-l", "--limit", metavar="PATTERN", help="Host selection.")
    ] = None,
    probes: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--probe",
            metavar="NAMES",
            help=f"Comma-separated: {','.join(PROBE_NAMES)} (default: all).",
        ),
    ] = None,
    forks: Annotated[int, typer.Option("-f", "--forks", min=1, help="Hosts at once.")] = 64,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.5, help="Cap on each command's time on a host (s)."),
    ] = None,
    deadline: Annotated[
        float | None, typer.Option("--deadline", min=1, help="Give up on the whole run after S s.")
    ] = None,
    save_bundle: Annotated[
        Path | None, typer.Option("--save-bundle", metavar="DIR", help="Keep every raw output.")
    ] = None,
    from_bundle: Annotated[
        Path | None,
        typer.Option("--from-bundle", metavar="DIR", help="Analyse a saved bundle, offline."),
    ] = None,
) -> None:
    """Probe hosts over SSH (one round trip each) and report results and findings.

    Exit status: 0 all fine, 1 findings (warning or worse), 3 some hosts not ok.
    """
    from dcctl.probes.summary import report_document
    from dcctl.render.probe import render_probe_reports
    from dcctl.survey.fleet import overall_status

    state: State = ctx.obj
    reports, names, elapsed = collect_reports(
        state, limit, probes, forks, timeout, deadline, save_bundle, from_bundle
    )
    state.emit(
        Output(
            "probe",
            lambda: {
                "probes": names,
                "elapsed_s": round(elapsed, 3),
                "status": overall_status(reports),
                "hosts": [report_document(r) for r in reports],
            },
            lambda console: render_probe_reports(console, reports, names, elapsed),
            records=lambda: (report_document(r) for r in reports),
            record_kind="probe.host",
        )
    )
    if any(r.status.value != "ok" for r in reports):
        raise typer.Exit(int(ExitCode.HOSTS_FAILED))
    if any(f.severity >= Severity.warning for r in reports for f in r.findings):
        raise typer.Exit(int(ExitCode.FINDINGS))


def collect_reports(
    state: State,
    limit: str | None,
    probes: str | None,
    forks: int,
    timeout: float | None,
    deadline: float | None,
    save_bundle: Path | None,
    from_bundle: Path | None,
) -> tuple[list[HostReport], list[str], float]:
    """Probe the selected hosts (or read a bundle): reports, the probes run, seconds taken."""
    # Imported here: paramiko and the probes cost ~0.2 s to import, which other commands skip.
    from dcctl.probes.registry import select_probes
    from dcctl.render.progress import ProgressDisplay
    from dcctl.survey.fleet import ProbeOptions, analyze_bundles, probe_fleet, save_bundles

    chosen = select_probes(probes.split(",") if probes else None)
    names = [p.name for p in chosen]
    start = time.monotonic()
    if from_bundle is not None:
        try:
            inventory = state.inventory()
        except (InventoryNotFoundError, InventoryError):
            inventory = None  # a bundle can be read without an inventory
        reports = analyze_bundles(from_bundle, chosen, inventory)
    else:
        inventory = state.inventory()
        hosts = list(inventory.select(limit))
        options = ProbeOptions(forks=forks, command_timeout=timeout, deadline_s=deadline)
        with ProgressDisplay(state.err, len(hosts), "probing") as progress:
            reports = probe_fleet(inventory, hosts, chosen, options, listener=progress)
        if save_bundle is not None:
            save_bundles(save_bundle, reports)
    return reports, names, time.monotonic() - start
