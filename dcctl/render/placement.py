"""Rendering a placement plan: jobs and their places, jobs left out and why, racks, solver."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from dcctl.planning.gpu_state import MILLI
from dcctl.planning.placement.plan import JobResult, PlacementPlan
from dcctl.render.console import new_table


def _gpus(result: JobResult) -> str:
    job = result.job
    if job.gpus:
        return str(job.gpus)
    return f"{job.milli / MILLI:g}" if job.milli else "0"


def gpu_ranges(gpus: tuple[int, ...]) -> str:
    """``(0, 1, 2, 3, 6)`` → ``0-3,6``."""
    out: list[str] = []
    for g in sorted(gpus):
        if out and out[-1].split("-")[-1] == str(g - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{g}"
        else:
            out.append(str(g))
    return ",".join(out)


def _where(result: JobResult) -> str:
    parts = []
    for r in result.replicas:
        parts.append(f"{r.host}:{gpu_ranges(r.gpus)}" if r.gpus else r.host)
    return " ".join(parts)


def render_placement_plan(console: Console, plan: PlacementPlan) -> None:
    """Tables for people."""
    table = new_table(
        console, "JOB", "REPLICAS", "GPUS/REPLICA", "PRIORITY", "PLACED ON (host:GPUs)"
    )
    for r in plan.results:
        if r.placed:
            table.add_row(escape(r.job.name), str(r.job.replicas), _gpus(r), str(r.job.priority),
                          escape(_where(r)))  # fmt: skip
    console.print(table)
    if plan.left_out:
        out = new_table(console, "LEFT OUT", "REPLICAS", "GPUS/REPLICA", "BECAUSE")
        for r in plan.left_out:
            out.add_row(escape(r.job.name), str(r.job.replicas), _gpus(r),
                        f"[yellow]{escape(r.reason or '')}[/yellow]")  # fmt: skip
        console.print(out)
    racks = new_table(console, "RACK", "GPUS", "ALLOCATED BEFORE", "AFTER", "POWER LEFT")
    for rack in plan.racks:
        pct = 100 * rack.allocated_after / rack.gpus if rack.gpus else 0.0
        power = "-" if rack.power_left_w is None else f"{rack.power_left_w / 1000:.1f} kW"
        racks.add_row(escape(rack.rack), str(rack.gpus), f"{rack.allocated_before:g}",
                      f"{rack.allocated_after:g} ({pct:.0f}%)", power)  # fmt: skip
    if plan.racks:
        console.print(racks)
    s = plan.solution
    placed = sum(1 for r in plan.results if r.placed)
    console.print(
        f"{placed} of {len(plan.results)} jobs placed. Solver: {s.status}, objective "
        f"{s.objective:g} (priority × GPUs), bound {s.bound:g}, gap {100 * s.gap:.2f}%, "
        f"greedy {plan.greedy_objective:g}; stranded {plan.stranded_milli / MILLI:g} GPUs on "
        f"{plan.stranded_hosts} hosts (free, but no job shape fits there); fragmentation "
        f"{s.fragmentation} (GPUs opened for sharing + empty hosts broken into); {s.wall_s:.2f} s"
        + ("." if s.node_classes is None else f", solved on {s.node_classes} classes of hosts.")
    )


def plan_document(plan: PlacementPlan) -> dict[str, Any]:
    """JSON-ready plan."""
    s = plan.solution
    return {
        "jobs": [
            {
                "name": r.job.name,
                "placed": r.placed,
                "replicas": [{"host": x.host, "gpus": list(x.gpus)} for x in r.replicas],
                "gpus_per_replica": r.job.gpus or r.job.milli / MILLI,
                "priority": r.job.priority,
                "reason": r.reason,
            }
            for r in plan.results
        ],
        "racks": [
            {
                "rack": rack.rack,
                "gpus": rack.gpus,
                "allocated_before": rack.allocated_before,
                "allocated_after": rack.allocated_after,
                "power_left_w": rack.power_left_w,
            }
            for rack in plan.racks
        ],
        "solver": {
            "status": s.status,
            "objective": s.objective,
            "bound": s.bound,
            "gap": round(s.gap, 6),
            "greedy_objective": plan.greedy_objective,
            "stranded_gpus": plan.stranded_milli / MILLI,
            "stranded_hosts": plan.stranded_hosts,
            "fragmentation": s.fragmentation,
            "wall_s": round(s.wall_s, 3),
            "node_classes": s.node_classes,
        },
    }
