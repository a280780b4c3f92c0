"""Rendering ``dcctl run``: each distinct output once under its folded hosts (``clush -b``)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from dcctl.model.nodeset import NodeSet
from dcctl.model.reasons import fold_reasons, without_address
from dcctl.survey.adhoc import RunResult, gather


def render_gathered(console: Console, err: Console, results: Sequence[RunResult]) -> None:
    """Distinct outputs under their hosts, then exit statuses and hosts not reached (stderr)."""
    for hosts, r in gather(results):
        names = NodeSet.from_names(hosts)
        header = f"{names} ({len(hosts)})"
        console.print(f"[bold]{'-' * 15}\n{escape(header)}\n{'-' * 15}[/bold]", soft_wrap=True)
        text = r.stdout + (r.stderr if r.stderr else "")
        if text:
            console.out(text.rstrip("\n"), highlight=False)
    _summary(err, results)


def render_lines(console: Console, err: Console, results: Sequence[RunResult]) -> None:
    """Every line prefixed with its host (pdsh style): stdout here, stderr on stderr."""
    for r in results:
        for line in r.stdout.splitlines():
            console.out(f"{r.host}: {line}", highlight=False)
        for line in r.stderr.splitlines():
            err.out(f"{r.host}: {line}", highlight=False)
    _summary(err, results)


def _summary(err: Console, results: Sequence[RunResult]) -> None:
    by_rc: dict[int, list[str]] = {}
    for r in results:
        if r.reached and r.rc:
            by_rc.setdefault(r.rc, []).append(r.host)
    for rc, hosts in sorted(by_rc.items()):
        err.print(f"[yellow]rc={rc}: {escape(str(NodeSet.from_names(hosts)))}[/yellow]",
                  soft_wrap=True)  # fmt: skip
    missed = [(r.host, f"{r.status.value}: {without_address(r.error or '')}".rstrip(": "))
              for r in results if not r.reached]  # fmt: skip
    for folded, why in fold_reasons(missed):
        err.print(f"[red]{escape(str(folded))}: {escape(why)}[/red]", soft_wrap=True)
