"""Rendering a power plan: budgets, caps folded by host set, throughput, solver figures."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape

from dcctl.inventory.power import kw
from dcctl.model.nodeset import NodeSet
from dcctl.planning.power.plan import PowerPlan
from dcctl.render.console import new_table


def caps_by_hosts(plan: PowerPlan) -> list[tuple[str, str, str]]:
    """(folded hosts, caps, classes): hosts whose GPUs got the same caps share one row."""
    per_host: dict[str, list[tuple[int, float, str]]] = defaultdict(list)
    for (host, index), cap in plan.caps.items():
        per_host[host].append((index, cap, plan.workloads[(host, index)]))
    shapes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for host, gpus in per_host.items():
        counts: dict[float, int] = defaultdict(int)
        for _, cap, _ in gpus:
            counts[cap] += 1
        caps = ", ".join(f"{n}× {cap:g} W" for cap, n in sorted(counts.items(), reverse=True))
        classes = ",".join(sorted({w for _, _, w in gpus}))
        shapes[(caps, classes)].add(host)
    rows = [(str(NodeSet.from_names(h)), caps, cls) for (caps, cls), h in shapes.items()]
    return sorted(rows)


def render_power_plan(console: Console, plan: PowerPlan) -> None:
    """Tables for people."""
    table = new_table(console, "BUDGET", "KIND", "LIMIT", "PLANNED", "HEADROOM", "USED")
    for b in plan.budgets:
        used = 100 * b.planned_w / b.budget_w if b.budget_w else 0.0
        style = "red" if b.planned_w > b.budget_w + 1e-6 else ("yellow" if used > 95 else "")
        pct = f"[{style}]{used:.1f}%[/{style}]" if style else f"{used:.1f}%"
        table.add_row(
            escape(b.name.split(":", 1)[1]), b.kind, kw(b.budget_w), kw(b.planned_w),
            kw(b.headroom_w), pct,
        )  # fmt: skip
    console.print(table)
    if not plan.feasible:
        console.print(
            f"[bold red]No caps suffice[/bold red]: even at their lowest caps the GPUs overrun "
            f"{escape(plan.tightest or 'a budget')}."
        )
        shed = new_table(console, "RACK", "MUST SHED", "BECAUSE OF")
        for s in plan.shed:
            shed.add_row(escape(s.rack), kw(s.watts), escape(s.because))
        console.print(shed)
    else:
        caps = new_table(console, "HOSTS", "GPU CAPS", "CLASS")
        for hosts, line, classes in caps_by_hosts(plan):
            caps.add_row(escape(hosts), escape(line), escape(classes))
        console.print(caps)
        share = 100 * plan.throughput / plan.default_throughput if plan.default_throughput else 0
        console.print(
            f"throughput {plan.throughput:.2f} of {plan.default_throughput:.2f} GPU-equivalents "
            f"at default limits ({share:.1f}%); solver {plan.status}, objective "
            f"{plan.objective:.3f}, bound {plan.bound:.3f}, LP bound {plan.lp_bound:.3f}, gap "
            f"{100 * plan.gap:.2f}%, {plan.solve_s:.2f} s"
        )
    if plan.offline_hosts:
        off = escape(str(NodeSet.from_names(plan.offline_hosts)))
        console.print(f"[red]no live feed: {off} are off[/red]")
    for note in plan.notes:
        console.print(f"[yellow]{escape(note)}[/yellow]")


def plan_document(plan: PowerPlan) -> dict[str, Any]:
    """The plan as JSON."""
    return {
        "status": plan.status,
        "feasible": plan.feasible,
        "throughput": round(plan.throughput, 4),
        "default_throughput": round(plan.default_throughput, 4),
        "objective": round(plan.objective, 4),
        "bound": round(plan.bound, 4),
        "lp_bound": round(plan.lp_bound, 4),
        "gap": round(plan.gap, 6),
        "solve_s": round(plan.solve_s, 3),
        "budgets": [
            {
                "name": b.name,
                "kind": b.kind,
                "budget_w": round(b.budget_w, 1),
                "raw_w": round(b.raw_w, 1),
                "planned_w": round(b.planned_w, 1),
            }
            for b in plan.budgets
        ],
        "caps": [
            {"host": h, "gpu": i, "watts": cap, "class": plan.workloads[(h, i)]}
            for (h, i), cap in sorted(plan.caps.items())
        ],
        "shed": [
            {"rack": s.rack, "watts": round(s.watts, 1), "because": s.because} for s in plan.shed
        ],
        "tightest": plan.tightest,
        "offline_hosts": list(plan.offline_hosts),
        "notes": list(plan.notes),
    }
