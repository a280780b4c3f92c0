"""Rendering health verdicts: hosts folded by identical verdict and findings, actions first."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.markup import escape

from dcctl.model.nodeset import NodeSet
from dcctl.model.reasons import without_address
from dcctl.survey.health import FleetHealth

_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "unknown": "magenta"}


def render_health(console: Console, fleet: FleetHealth) -> None:
    """``gpu[001-015]: ok`` / ``gpu016: critical: reset_gpu`` and the findings behind it."""
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for h in fleet.hosts:
        lines = (
            tuple(
                f"{f.severity.name} {f.subject + ' ' if f.subject else ''}{f.code}: {f.message}"
                f" → {f.action.value} [{f.source or f.probe}]"
                for f in sorted(h.findings, key=lambda f: (-f.severity, f.code))
            )
            + tuple(f"unknown {k}: {without_address(v)}" for k, v in sorted(h.unknown.items()))
            + tuple(h.notes)
        )
        groups[(h.verdict, tuple(h.actions), lines)].add(h.host)
    order = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}
    for (verdict, actions, lines), hosts in sorted(
        groups.items(), key=lambda kv: (order[kv[0][0]], str(NodeSet.from_names(kv[1])))
    ):
        style = _STYLE[verdict]
        todo = f": {', '.join(actions)}" if actions else ""
        console.print(
            f"[{style}]{escape(str(NodeSet.from_names(hosts)))}: {verdict}{escape(todo)}[/{style}]",
            soft_wrap=True,
        )
        for line in lines:
            console.print(f"    {escape(line)}", soft_wrap=True)
    counts = fleet.counts
    console.print(
        f"{len(fleet.hosts)} host(s): "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        + f" ({fleet.elapsed_s:.1f} s)"
    )
