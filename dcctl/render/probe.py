"""Rendering probe reports: results folded across hosts, findings by severity, failures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from dcctl.checks.findings import Severity
from dcctl.model.nodeset import NodeSet
from dcctl.model.reasons import without_address
from dcctl.probes.gather import HostReport
from dcctl.probes.summary import summarize
from dcctl.render.console import new_table

_SEVERITY_STYLE = {Severity.critical: "bold red", Severity.warning: "yellow", Severity.info: "dim"}
_STATUS_STYLE = {
    "failed": "red",
    "unreachable": "red",
    "timed_out": "yellow",
    "not_started": "yellow",
}


def render_probe_reports(
    console: Console, reports: Sequence[HostReport], probe_names: Sequence[str], elapsed_s: float
) -> None:
    """Results table (identical results share one row), findings, failures, a summary line."""
    rows: dict[tuple[str, str], set[str]] = defaultdict(set)
    for report in reports:
        for name in probe_names:
            if name in report.results:
                rows[(name, summarize(name, report.results[name]))].add(report.host)
    if rows:
        table = new_table(console, "PROBE", "HOSTS", "RESULT")
        for (name, line), hosts in sorted(
            rows.items(), key=lambda kv: (probe_names.index(kv[0][0]), -len(kv[1]))
        ):
            table.add_row(name, escape(str(NodeSet.from_names(hosts))), escape(line))
        console.print(table)

    findings: dict[tuple[Severity, str, str, str], set[str]] = defaultdict(set)
    for report in reports:
        for f in report.findings:
            findings[(f.severity, f.probe, f.subject or "", f.message)].add(report.host)
    shown = {k: v for k, v in findings.items() if k[0] >= Severity.warning or len(findings) < 40}
    if shown:
        table = new_table(console, "SEVERITY", "HOSTS", "PROBE", "FINDING")
        for (severity, probe, subject, message), hosts in sorted(
            shown.items(), key=lambda kv: (-kv[0][0], kv[0][1], kv[0][2], kv[0][3])
        ):
            style = _SEVERITY_STYLE[severity]
            text = f"{subject}: {message}" if subject else message
            table.add_row(
                f"[{style}]{severity.name}[/{style}]",
                escape(str(NodeSet.from_names(hosts))),
                probe,
                escape(text),
            )
        console.print(table)

    failures: dict[tuple[str, str], set[str]] = defaultdict(set)
    for report in reports:
        if report.status.value != "ok":
            reason = without_address("; ".join(report.errors) or "failed")
            failures[(report.status.value, reason)].add(report.host)
    if failures:
        table = new_table(console, "STATUS", "HOSTS", "REASON")
        for (status, reason), hosts in sorted(failures.items()):
            style = _STATUS_STYLE.get(status, "")
            table.add_row(
                f"[{style}]{status}[/{style}]",
                escape(str(NodeSet.from_names(hosts))),
                escape(reason),
            )
        console.print(table)

    counts: dict[str, int] = defaultdict(int)
    for report in reports:
        counts[report.status.value] += 1
    parts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
    console.print(f"{len(reports)} hosts: {parts} in {elapsed_s:.1f} s")
