"""Rendering a playbook Plan: identical changes folded across hosts, secrets masked."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.markup import escape

from dcctl.model.nodeset import NodeSet
from dcctl.model.reasons import without_address
from dcctl.playbook.model import Plan


def render_plan(console: Console, plan: Plan) -> None:
    """``gpu[001-120]: sysctl net.core.rmem_max  212992 → 268435456`` and the diffs below."""
    changes: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    unchanged: dict[int, set[str]] = defaultdict(set)
    errors: dict[str, set[str]] = defaultdict(set)
    stale: dict[tuple[str, str], set[str]] = defaultdict(set)
    for host in plan.hosts:
        if host.error:
            errors[without_address(host.error)].add(host.host)
        same = 0
        for outcome in host.outcomes:
            change = outcome.change
            if outcome.stale is not None:
                stale[(plan.mask(outcome.resource), plan.mask(outcome.stale))].add(host.host)
                continue
            if outcome.error is not None:
                continue  # reported with the host's error below
            if change is None:
                same += 1
                continue
            # Masked first, shortened after: no part of a secret survives a cut.
            key = (
                plan.mask(change.resource),
                _short(plan.mask(change.before), cut=console.is_terminal),
                _short(plan.mask(change.after), cut=False),  # the target value is never cut
                plan.mask(change.reason + ("\n" + change.diff.rstrip("\n") if change.diff else "")),
            )
            changes[key].add(host.host)
        unchanged[same].add(host.host)
    for (resource, before, after, reason), hosts in sorted(
        changes.items(), key=lambda kv: str(NodeSet.from_names(kv[1]))
    ):
        console.print(
            f"[bold]{escape(str(NodeSet.from_names(hosts)))}[/bold]: {escape(resource)}  "
            f"[red]{escape(before)}[/red] → [green]{escape(after)}[/green]",
            soft_wrap=True,
        )
        for line in reason.splitlines():
            style = (
                "green"
                if line.startswith("+") and not line.startswith("+++")
                else ("red" if line.startswith("-") and not line.startswith("---") else "dim")
            )
            console.print(f"    [{style}]{escape(line)}[/{style}]", soft_wrap=True)
    for count, hosts in sorted(unchanged.items()):
        if count:
            console.print(
                f"{escape(str(NodeSet.from_names(hosts)))}: {count} resource(s) already as desired"
            )
    for (resource, why), hosts in sorted(stale.items()):
        console.print(
            f"[red]{escape(str(NodeSet.from_names(hosts)))}: {escape(resource)}: stale, not "
            f"applied: {escape(why)}[/red]",
            soft_wrap=True,
        )
    for error, hosts in sorted(errors.items()):
        console.print(
            f"[red]{escape(str(NodeSet.from_names(hosts)))}: {escape(plan.mask(error))}[/red]",
            soft_wrap=True,
        )
    failed = f"; {len(plan.failed)} host(s) not read (see above)" if plan.failed else ""
    if plan.stale:
        failed += f"; {plan.stale} change(s) stale (not applied)"
    console.print(
        f"{plan.pending} change(s) pending on {sum(1 for h in plan.hosts if h.changes)} host(s)"
        + failed
    )


def _short(text: str, *, cut: bool) -> str:
    """The first line, `` …`` when more follow (the diff shows them).

    Cut at 60 characters only when ``cut`` (at a terminal, for the value before).
    """
    first = text.strip().splitlines()
    if not first:
        return "(empty)"
    line = first[0]
    more = " …" if len(first) > 1 else ""
    return (line[:60] + "…" if cut and len(line) > 60 else line) + more
