"""Health verdicts: probe a fleet, judge each host, say what to do, in every monitoring format.

A host's verdict is the worst of its findings: critical, then warning; a host whose answer is
not known (unreachable, a probe that never reported back or whose tool is missing) is unknown,
never ok and never unhealthy. Each host also gets the actions its findings call for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcctl.checks.baseline import drift_findings, host_baseline
from dcctl.checks.findings import DRAINING_ACTIONS, Action, Finding, Severity
from dcctl.checks.outliers import outlier_findings
from dcctl.inventory.model import Inventory
from dcctl.model.monitoring import Metric, PerfData, Status
from dcctl.probes.gather import HostReport
from dcctl.probes.gpu_model import THROTTLE_REASONS, GpuReport
from dcctl.transport.fanout import HostStatus

VERDICTS = ("ok", "warning", "critical", "unknown")
#: Probes that read GPUs through nvidia-smi: not applicable where the profile has no GPU.
GPU_PROBES = ("gpu", "nvlink")
#: Verdict → Nagios state.
NAGIOS_STATE = {"ok": "OK", "warning": "WARNING", "critical": "CRITICAL", "unknown": "UNKNOWN"}
#: Verdict → the value of ``dcctl_host_verdict``.
VERDICT_VALUE = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}


@dataclass
class HostHealth:
    """One host's verdict, the findings behind it, and what to do."""

    report: HostReport
    verdict: str
    findings: list[Finding] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        """Host name."""
        return self.report.host

    @property
    def actions(self) -> list[str]:
        """Distinct actions the findings call for, the most disruptive first."""
        order = list(Action)
        found = {f.action for f in self.findings if f.action is not Action.none}
        return [a.value for a in sorted(found, key=order.index, reverse=True)]

    @property
    def needs_drain(self) -> bool:
        """True when some action takes the node out of service."""
        return any(f.action in DRAINING_ACTIONS for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a ``dcctl.health.host/1`` record)."""
        return {
            "host": self.host,
            "verdict": self.verdict,
            "status": self.report.status.value,
            "actions": self.actions,
            "findings": [f.to_dict() for f in self.findings],
            "unknown": self.unknown,
            "notes": self.notes,
            "errors": self.report.errors,
        }


def judge(report: HostReport, gpus_expected: int | None = None) -> HostHealth:
    """The verdict of one host from its report and findings.

    ``gpus_expected``: the GPUs its profile expects (None: no profile says). A GPU probe that
    could not run nvidia-smi (not installed) is unknown when GPUs are, or may be, expected,
    and not applicable on a host whose profile has none.
    """
    findings = [f for f in report.findings if f.severity >= Severity.warning]
    unknown = dict(report.unknown)
    notes: list[str] = []
    gpu = report.results.get("gpu")
    if isinstance(gpu, GpuReport) and not gpu.driver_present and "not found" in (gpu.error or ""):
        findings = [f for f in findings if f.code != "no_driver"]
        if gpus_expected == 0:
            for probe in GPU_PROBES:
                if unknown.pop(probe, None) is not None or probe == "gpu":
                    notes.append(
                        f"{probe}: not applicable ({gpu.error}; the profile expects no GPU)"
                    )
        else:
            unknown["gpu"] = gpu.error or "no NVIDIA driver"
    if "gpu" in unknown:
        # "no driver" is what an answer that never came looks like: unknown, not a fault.
        findings = [f for f in findings if f.code != "no_driver"]
    if report.status is not HostStatus.ok:
        unknown.setdefault("host", "; ".join(report.errors) or report.status.value)
    if any(f.severity is Severity.critical for f in findings):
        verdict = "critical"
    elif findings:
        verdict = "warning"
    elif unknown:
        verdict = "unknown"
    else:
        verdict = "ok"
    return HostHealth(report, verdict, findings, unknown, notes)


@dataclass
class FleetHealth:
    """Every host's verdict."""

    hosts: list[HostHealth]
    elapsed_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Hosts per verdict."""
        counted = Counter(h.verdict for h in self.hosts)
        return {v: counted.get(v, 0) for v in VERDICTS}

    @property
    def verdict(self) -> str:
        """The fleet's: the worst host's (critical, warning, unknown, ok)."""
        counts = self.counts
        for v in ("critical", "warning", "unknown"):
            if counts[v]:
                return v
        return "ok"

    def document(self) -> dict[str, Any]:
        """JSON-ready (``dcctl.health/1``)."""
        return {
            "verdict": self.verdict,
            "counts": self.counts,
            "elapsed_s": round(self.elapsed_s, 3),
            "hosts": [h.to_dict() for h in self.hosts],
        }

    def status(self) -> Status:
        """The Nagios view: worst state, the worst hosts named, perfdata per verdict."""
        counts, total = self.counts, len(self.hosts)
        verdict = self.verdict
        if verdict == "ok":
            summary = f"{total} of {total} hosts ok"
        else:
            bad = [h for h in self.hosts if h.verdict == verdict]
            named = "; ".join(_brief(h) for h in bad[:5]) + (" …" if len(bad) > 5 else "")
            summary = f"{len(bad)} of {total} hosts {verdict}: {named}"
        perf = tuple(PerfData(f"hosts_{v}", counts[v], minimum=0, maximum=total) for v in VERDICTS)
        details = tuple(
            f"{h.host}: {h.verdict}: {_brief(h)}" for h in self.hosts if h.verdict != "ok"
        )
        return Status(NAGIOS_STATE[verdict], summary, perf, details)


def _brief(host: HostHealth) -> str:
    if host.findings:
        worst = sorted(host.findings, key=lambda f: -f.severity)[:2]
        text = ", ".join(f"{f.subject + ' ' if f.subject else ''}{f.code}" for f in worst)
        actions = f" ({', '.join(host.actions)})" if host.actions else ""
        return f"{host.host} {text}{actions}"
    reasons = "; ".join(f"{k}: {v}" for k, v in host.unknown.items())
    return f"{host.host} {reasons}" if reasons else host.host


def judge_fleet(
    reports: Sequence[HostReport],
    elapsed_s: float = 0.0,
    gpus_expected: Mapping[str, int | None] | None = None,
) -> FleetHealth:
    """Every host judged (``gpus_expected``: per host, what its profile expects)."""
    expected = gpus_expected or {}
    return FleetHealth([judge(r, expected.get(r.host)) for r in reports], elapsed_s)


def apply_baseline(reports: Sequence[HostReport], baseline: Mapping[str, Any]) -> None:
    """Add drift findings to each report that has a baseline entry.

    Lifetime counters are then judged by their growth since the baseline, so the
    lifetime-total finding gives way.
    """
    for report in reports:
        entry = baseline.get(report.host)
        if entry is None or report.status is not HostStatus.ok:
            continue
        report.findings = [
            f for f in report.findings if f.code != "ecc_uncorrectable_history"
        ] + drift_findings(host_baseline(report.results), entry)


def apply_outliers(reports: Sequence[HostReport], cohort_of: Mapping[str, str]) -> None:
    """Add fleet-relative outlier findings (cohorts: same profile, else same GPU model)."""
    found = outlier_findings({r.host: r.results for r in reports}, cohort_of)
    for report in reports:
        report.findings = report.findings + found.get(report.host, [])


def cohorts(inventory: Inventory) -> dict[str, str]:
    """Per host, its cohort for outliers: its profile."""
    return {name: f"profile {h.profile}" for name, h in inventory.hosts.items() if h.profile}


def expected_gpus(inventory: Inventory) -> dict[str, int | None]:
    """Per host, the GPUs its profile expects (None without a profile)."""
    out: dict[str, int | None] = {}
    for name, host in inventory.hosts.items():
        profile = inventory.profiles.get(host.profile) if host.profile else None
        out[name] = None if profile is None else (profile.gpu.count if profile.gpu else 0)
    return out


def metrics(fleet: FleetHealth) -> list[Metric]:
    """Prometheus families: verdicts, GPU gauges, one series per finding, probe duration."""
    up = Metric("dcctl_host_up", "1 when dcctl reached the host and ran its probes")
    verdict = Metric("dcctl_host_verdict", "Health verdict: 0 ok, 1 warning, 2 critical, 3 unknown")
    finding = Metric("dcctl_finding", "One series per finding (warning or worse)")
    duration = Metric("dcctl_probe_duration_seconds", "Time to connect and probe the host")
    gauges = {
        name: Metric(f"dcctl_gpu_{name}", text)
        for name, text in (
            ("power_watts", "GPU power draw"),
            ("power_limit_watts", "GPU power limit (cap)"),
            ("temperature_celsius", "GPU temperature"),
            ("utilization_ratio", "GPU utilisation (0-1)"),
            ("memory_used_bytes", "GPU memory in use"),
            ("sm_clock_hertz", "GPU SM clock"),
            ("ecc_uncorrected_volatile", "Uncorrectable ECC errors since the driver loaded"),
            ("ecc_uncorrected_aggregate", "Uncorrectable ECC errors in the GPU's lifetime"),
            ("remapped_rows_uncorrectable", "Rows remapped for uncorrectable errors"),
            ("remapped_rows_pending", "1 when a row remap waits for a GPU reset"),
            ("pcie_link_gen", "Current PCIe link generation"),
            ("pcie_link_width", "Current PCIe link width"),
            ("clocks_held_back", "1 when a slowdown reason holds the clocks back"),
        )
    }
    for h in fleet.hosts:
        host = h.host
        up.add(h.report.status is HostStatus.ok, host=host)
        verdict.add(VERDICT_VALUE[h.verdict], host=host)
        total = sum(h.report.timings.get(k, 0.0) for k in ("connect_s", "run_s"))
        duration.add(total if h.report.timings else None, host=host)
        for f in h.findings:
            finding.add(1, host=host, gpu=f.subject or "", rule=f.code,
                        severity=f.severity.name, action=f.action.value)  # fmt: skip
        gpu = h.report.results.get("gpu")
        if not isinstance(gpu, GpuReport):
            continue
        for g in gpu.gpus:
            labels = {"host": host, "gpu": str(g.index), "uuid": g.uuid or ""}
            gauges["power_watts"].add(g.power_draw_w, **labels)
            gauges["power_limit_watts"].add(g.power_limit_w, **labels)
            gauges["temperature_celsius"].add(g.temperature_c, **labels)
            util = g.utilization_pct / 100 if g.utilization_pct is not None else None
            gauges["utilization_ratio"].add(util, **labels)
            used = g.memory_used_mib * 2**20 if g.memory_used_mib is not None else None
            gauges["memory_used_bytes"].add(used, **labels)
            clock = g.sm_clock_mhz * 1e6 if g.sm_clock_mhz is not None else None
            gauges["sm_clock_hertz"].add(clock, **labels)
            gauges["ecc_uncorrected_volatile"].add(g.ecc_uncorrected_volatile, **labels)
            gauges["ecc_uncorrected_aggregate"].add(g.ecc_uncorrected_aggregate, **labels)
            gauges["remapped_rows_uncorrectable"].add(g.remapped_rows_uncorrectable, **labels)
            gauges["remapped_rows_pending"].add(g.remapped_rows_pending, **labels)
            gauges["pcie_link_gen"].add(g.pcie_gen, **labels)
            gauges["pcie_link_width"].add(g.pcie_width, **labels)
            held = bool(set(g.clock_event_reasons) & THROTTLE_REASONS)
            gauges["clocks_held_back"].add(held, **labels)
    return [up, verdict, finding, duration, *gauges.values()]
