"""The probe behind apply's health gate: per host, its warning-or-worse findings and status."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dcctl.checks.findings import Severity
from dcctl.inventory.model import Inventory
from dcctl.probes.registry import select_probes
from dcctl.survey.fleet import ProbeOptions, probe_fleet
from dcctl.transport.ssh import SshContext

#: The probes a gate runs: quick, and where an apply most often breaks a host.
GATE_PROBES = ("gpu", "storage")


def gate_probe(
    inventory: Inventory, forks: int = 64
) -> Callable[[Sequence[str]], dict[str, set[str]]]:
    """A probe for apply's health gate (:class:`dcctl.playbook.events.HealthGate`).

    Per host: its finding codes of warning or worse, and its status when not ok.
    """

    def probe(hosts: Sequence[str]) -> dict[str, set[str]]:
        context = SshContext()
        try:
            reports = probe_fleet(inventory, list(hosts), select_probes(list(GATE_PROBES)),
                                  ProbeOptions(forks=forks), context=context)  # fmt: skip
        finally:
            context.close()
        out: dict[str, set[str]] = {}
        for report in reports:
            codes = {f.code for f in report.findings if f.severity >= Severity.warning}
            if report.status.value != "ok":
                codes.add(report.status.value)
            out[report.host] = codes
        return out

    return probe
