"""Probing many hosts: transports per host, the fan-out pool, findings; bundles in and out."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dcctl.checks.profile import evaluate
from dcctl.errors import InputError
from dcctl.inventory.model import Host, Inventory, Profile
from dcctl.probes.base import Probe
from dcctl.probes.bundle import read_bundle, write_bundle
from dcctl.probes.gather import (
    HostReport,
    ProbeScript,
    analyze_outputs,
    probe_host,
    steps_of,
)
from dcctl.probes.nvml import collect_nvml, load_nvml
from dcctl.transport.base import Transport
from dcctl.transport.fanout import HostStatus, Listener, fan_out
from dcctl.transport.registry import make_transport as make_kind
from dcctl.transport.ssh import SshContext


@dataclass(frozen=True)
class ProbeOptions:
    """How to probe: concurrency and time limits."""

    forks: int = 64
    command_timeout: float | None = None
    deadline_s: float | None = None


def make_transport(host: Host, context: SshContext) -> Transport:
    """The transport an inventory host asks for (``transport:``), from the registry."""
    return make_kind(host.transport, host.target, context)


def probe_fleet(
    inventory: Inventory,
    hosts: Sequence[str],
    probes: Sequence[Probe],
    options: ProbeOptions,
    *,
    context: SshContext | None = None,
    listener: Listener | None = None,
) -> list[HostReport]:
    """Probe hosts in parallel; every host gets a report, failed ones with their error."""
    context = context or SshContext()
    script = ProbeScript.build(probes, command_timeout=options.command_timeout)

    def work(name: str) -> HostReport:
        host = inventory.hosts[name]
        transport = make_transport(host, context)
        try:
            report = probe_host(transport, probes, script=script)
        finally:
            transport.close()
        if host.transport == "local" and "gpu" in report.results:
            _use_nvml(report)
        report.findings = evaluate(report.results, _profile(inventory, host))
        return report

    # The cyclic GC would repeatedly walk the live objects of hundreds of connections; pause
    # it during the fan-out (garbage waits until the end of the run, a few MB at most).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        outcomes = fan_out(
            hosts,
            work,
            forks=options.forks,
            status_of=lambda r: r.status,
            deadline_s=options.deadline_s,
            listener=listener,
        )
    finally:
        context.close()
        if gc_was_enabled:
            gc.enable()
    reports = []
    for outcome in outcomes:
        if outcome.value is not None:
            reports.append(outcome.value)
        else:
            reports.append(
                HostReport(outcome.host, outcome.status, errors=[outcome.error or "failed"],
                           timings={"total_s": round(outcome.duration_s, 3)})
            )  # fmt: skip
    return reports


def probe_here(
    inventory: Inventory | None,
    name: str,
    probes: Sequence[Probe],
    command_timeout: float | None = None,
) -> HostReport:
    """Probe the machine dcctl runs on, as inventory host ``name`` (its profile, when known).

    No SSH: the probe script runs here (as Slurm's HealthCheckProgram runs it on each node),
    and GPU facts come from NVML when it is there.
    """
    from dcctl.transport.local import LocalTransport

    host = inventory.hosts.get(name) if inventory is not None else None
    report = probe_host(LocalTransport(name), probes, command_timeout=command_timeout)
    if "gpu" in report.results:
        _use_nvml(report)
    report.findings = evaluate(report.results, _profile(inventory, host))
    return report


def _use_nvml(report: HostReport) -> None:
    """On the local host, take GPU facts from NVML when it is there.

    Topology and Xid events still come from nvidia-smi and the kernel log.
    """
    nvml = load_nvml()
    if nvml is None:
        return
    try:
        fresh = collect_nvml(nvml)
    finally:
        nvml.nvmlShutdown()
    old = report.results["gpu"]
    fresh.topology, fresh.xid_events = old.topology, old.xid_events
    report.results["gpu"] = fresh


def _profile(inventory: Inventory | None, host: Host | None) -> Profile | None:
    if inventory is None or host is None or host.profile is None:
        return None
    return inventory.profiles.get(host.profile)


def save_bundles(directory: Path, reports: Sequence[HostReport]) -> None:
    """Write each host's raw outputs under ``directory/<host>/``."""
    for report in reports:
        if report.outputs:
            write_bundle(directory / report.host, report.outputs)


def analyze_bundles(
    directory: Path, probes: Sequence[Probe], inventory: Inventory | None = None
) -> list[HostReport]:
    """Reports from a bundle: one host's files in ``directory``, or one folder per host.

    A host also in the inventory is compared with its profile.
    """
    if not directory.is_dir():
        raise InputError(f"{directory}: no such bundle directory")
    steps = steps_of(probes)
    has_files = any(p.is_file() for p in directory.iterdir())
    folders = [directory] if has_files else sorted(p for p in directory.iterdir() if p.is_dir())
    if not folders:
        raise InputError(f"{directory}: empty bundle")
    reports = []
    for folder in folders:
        outputs = read_bundle(folder, steps)
        if not outputs:
            raise InputError(f"{folder}: no recognisable command output in this bundle")
        name = folder.name
        report = analyze_outputs(name, outputs, probes)
        host = inventory.hosts.get(name) if inventory is not None else None
        report.findings = evaluate(report.results, _profile(inventory, host))
        reports.append(report)
    return reports


def overall_status(reports: Sequence[HostReport]) -> dict[str, int]:
    """Count of hosts per status."""
    counts = {s.value: 0 for s in HostStatus}
    for report in reports:
        counts[report.status.value] += 1
    return counts
