"""Rendering Slurm actions and state: hosts folded by identical action or state."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dcctl.model.nodeset import NodeSet
from dcctl.scheduler.actions import HostAction
from dcctl.scheduler.status import HostSlurmState

_OUTCOME = {"done": "green", "failed": "red", "planned": "bold", "skipped": "dim"}


def render_actions(console: Console, actions: Sequence[HostAction]) -> None:
    """``gpu[001-002]: drain (done) drain`` / ``gpu003: skip already drained by alice: …``."""
    folded: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for a in actions:
        why = a.why if a.node == a.host else f"{a.why} (Slurm node {a.node})"
        folded[(a.outcome, a.action, why, a.error or "")].append(a.host)
    order = {"failed": 0, "done": 1, "planned": 2, "skipped": 3}
    for (outcome, action, why, error), hosts in sorted(
        folded.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1:])
    ):
        style = _OUTCOME.get(outcome, "")
        shown = "" if outcome in ("planned", "skipped") else f" ({outcome})"
        tail = f": {error}" if error else ""
        console.print(
            f"[{style}]{escape(str(NodeSet.from_names(hosts)))}: {action}{shown}[/{style}] "
            f"{escape(why + tail)}",
            soft_wrap=True,
        )


def _age(at: float | None) -> str:
    if at is None:
        return ""
    seconds = max(0, int(time.time() - at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def render_status(console: Console, states: Sequence[HostSlurmState]) -> None:
    """A table: hosts folded by identical Slurm state, reason, GPU use and last verdict."""
    folded: dict[tuple[str, str, str, str], list[HostSlurmState]] = defaultdict(list)
    for s in states:
        n = s.node
        if n is None:
            key = ("not in Slurm", "", "", s.verdict or "")
        else:
            state = "+".join([n.state.upper(), *n.flags])
            gpus = "" if n.gpus is None else f"{n.gpus_used or 0}/{n.gpus}"
            reason = n.reason or ""
            if reason and n.reason_by:
                reason += f" (by {n.reason_by})"
            key = (state, gpus, reason, s.verdict or "")
        folded[key].append(s)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("HOSTS", "STATE", "GPUS USED", "JOBS", "REASON", "LAST VERDICT"):
        table.add_column(column, overflow="fold")
    for (state, gpus, reason, verdict), group in sorted(
        folded.items(), key=lambda kv: str(NodeSet.from_names(s.host for s in kv[1]))
    ):
        jobs = sorted({j for s in group for j in s.jobs})
        shown_jobs = ",".join(jobs[:4]) + (f" (+{len(jobs) - 4})" if len(jobs) > 4 else "")
        ages = [s.verdict_at for s in group if s.verdict_at is not None]
        last = f"{verdict} {_age(max(ages))}".strip() if verdict else ""
        hosts = NodeSet.from_names(s.host for s in group)
        table.add_row(
            escape(f"{hosts} ({len(hosts)})"), escape(state), gpus, shown_jobs,
            escape(reason), escape(last),
        )  # fmt: skip
    console.print(table)
