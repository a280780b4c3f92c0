"""The power plan: a cap for every GPU, every budget kept, and what to shed when none suffices.

``plan_power`` builds the problem, checks it can be met at all (every GPU at its lowest allowed
cap), seeds the solver with a greedy water-filling plan, solves, and reports the plan as a value:
caps per GPU, draw per budget, throughput against running everything at the default limit.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import defaultdict
from dataclasses import dataclass, field

from dcctl.inventory.model import Inventory
from dcctl.planning.cpsat.power import PowerAssignment, solve_power
from dcctl.planning.power.components import independent_parts
from dcctl.planning.power.problem import PowerProblem, PowerRequest, build_power_problem
from dcctl.planning.solver_options import SolverOptions


@dataclass(frozen=True)
class BudgetUse:
    """A budget and what the plan draws from it."""

    name: str
    kind: str
    budget_w: float  # after headroom (and derating, for feeds)
    raw_w: float  # before headroom
    planned_w: float

    @property
    def headroom_w(self) -> float:
        """Watts left under the budget."""
        return self.budget_w - self.planned_w


@dataclass(frozen=True)
class Shed:
    """A rack that must shed load because no caps suffice, and by how much."""

    rack: str
    watts: float
    because: str


@dataclass
class PowerPlan:
    """The outcome of ``plan_power``."""

    status: str
    caps: dict[tuple[str, int], float] = field(default_factory=dict)  # (host, GPU) → W
    workloads: dict[tuple[str, int], str] = field(default_factory=dict)
    budgets: list[BudgetUse] = field(default_factory=list)
    throughput: float = 0.0  # Σ relative throughput (unweighted) of the plan
    default_throughput: float = 0.0  # the same at every GPU's default limit
    objective: float = 0.0
    bound: float = 0.0
    lp_bound: float = 0.0
    gap: float = 0.0
    solve_s: float = 0.0
    shed: list[Shed] = field(default_factory=list)
    tightest: str | None = None
    offline_hosts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        """True when every budget holds with some cap for every GPU."""
        return self.status in ("OPTIMAL", "FEASIBLE")


def budget_loads(
    problem: PowerProblem, counts: list[list[int]] | tuple[tuple[int, ...], ...]
) -> list[float]:
    """Watts each budget carries for the given level counts."""
    loads = []
    for b in problem.budgets:
        total = b.fixed_w
        for gid, share in b.shares:
            g = problem.groups[gid]
            total += share * sum(c * lv for c, lv in zip(counts[gid], g.levels_w, strict=True))
        loads.append(total)
    return loads


def minimum_counts(problem: PowerProblem) -> list[list[int]]:
    """Every GPU at its lowest allowed level."""
    out = []
    for g in problem.groups:
        counts = [0] * len(g.levels_w)
        counts[g.first_allowed] = g.count
        out.append(counts)
    return out


def greedy_counts(problem: PowerProblem) -> list[list[int]]:
    """Water-filling: raise the GPUs whose next step buys the most throughput per watt.

    Steps are taken while every budget holds; concave curves make this a good plan and a good
    hint for the solver.
    """
    room = [
        b.limit_w - load
        for b, load in zip(
            problem.budgets, budget_loads(problem, minimum_counts(problem)), strict=True
        )
    ]
    shares_of: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for bi, b in enumerate(problem.budgets):
        for gid, share in b.shares:
            shares_of[gid].append((bi, share))
    base = [g.first_allowed for g in problem.groups]
    extra = [0] * len(problem.groups)
    heap: list[tuple[float, int]] = []

    def push(gid: int) -> None:
        g = problem.groups[gid]
        k = base[gid]
        if k + 1 < len(g.levels_w):
            gain = g.priority * (g.throughput[k + 1] - g.throughput[k])
            if gain > 0:
                heapq.heappush(heap, (-gain / (g.levels_w[k + 1] - g.levels_w[k]), gid))

    for gid in range(len(problem.groups)):
        push(gid)
    while heap:
        _, gid = heapq.heappop(heap)
        g = problem.groups[gid]
        k = base[gid]
        step = g.levels_w[k + 1] - g.levels_w[k]
        want = g.count - extra[gid]
        fit = want
        for bi, share in shares_of[gid]:
            if share > 0:
                fit = min(fit, int(room[bi] // (share * step + 1e-9)))
        if fit <= 0:
            continue
        for bi, share in shares_of[gid]:
            room[bi] -= share * step * fit
        extra[gid] += fit
        if extra[gid] == g.count:
            base[gid] += 1
            extra[gid] = 0
            push(gid)
    counts: list[list[int]] = []
    for g, level, e in zip(problem.groups, base, extra, strict=True):
        c = [0] * len(g.levels_w)
        c[level] += g.count - e
        if e:
            c[level + 1] += e
        counts.append(c)
    return counts


def shed_report(problem: PowerProblem, loads: list[float]) -> tuple[list[Shed], str | None]:
    """Racks that must shed load (with every GPU at its lowest cap), and the tightest budget.

    A budget's excess is charged to its racks in proportion to what each draws from it; a rack
    sheds the largest amount any of its budgets asks of it.
    """
    shed: dict[str, tuple[float, str]] = {}
    worst, tightest = 0.0, None
    for b, load in zip(problem.budgets, loads, strict=True):
        excess = load - b.limit_w
        if excess <= 1e-6:
            continue
        if excess / max(b.limit_w, 1.0) > worst:
            worst, tightest = excess / max(b.limit_w, 1.0), b.name
        per_rack: dict[str, float] = defaultdict(float, dict(b.rack_fixed))
        for gid, share in b.shares:
            g = problem.groups[gid]
            level = g.levels_w[g.first_allowed]
            for rack, n in g.racks:
                per_rack[rack] += share * level * n
        total = sum(per_rack.values()) or 1.0
        for rack, watts in per_rack.items():
            need = excess * watts / total
            if need > shed.get(rack, (0.0, ""))[0]:
                shed[rack] = (need, b.name)
    return [Shed(r, w, why) for r, (w, why) in sorted(shed.items())], tightest


def plan_power(
    inventory: Inventory, request: PowerRequest, solver: SolverOptions | None = None
) -> PowerPlan:
    """Plan a power cap for every GPU (see the module docstring)."""
    return solve_plan(build_power_problem(inventory, request), solver or SolverOptions())


def solve_plan(problem: PowerProblem, options: SolverOptions) -> PowerPlan:
    """Check feasibility at minimum caps, then solve and describe the plan."""
    minimum = minimum_counts(problem)
    loads = budget_loads(problem, minimum)
    if any(load > b.limit_w + 1e-6 for b, load in zip(problem.budgets, loads, strict=True)):
        shed, tightest = shed_report(problem, loads)
        return PowerPlan(
            status="INFEASIBLE",
            budgets=_uses(problem, loads),
            shed=shed,
            tightest=tightest,
            offline_hosts=problem.offline_hosts,
            notes=problem.notes,
        )
    hint = greedy_counts(problem)
    result = solve_by_parts(problem, options, hint)
    counts = result.counts if result.counts else tuple(tuple(c) for c in hint)
    plan = PowerPlan(
        status=result.status,
        budgets=_uses(problem, budget_loads(problem, counts)),
        objective=result.objective,
        bound=result.bound,
        lp_bound=result.lp_bound,
        gap=result.gap,
        solve_s=result.wall_s,
        offline_hosts=problem.offline_hosts,
        notes=problem.notes,
    )
    for g, per_level in zip(problem.groups, counts, strict=True):
        caps = [lv for lv, n in zip(g.levels_w, per_level, strict=True) for _ in range(n)]
        caps.sort(reverse=True)
        for member, cap in zip(g.members, caps, strict=True):
            plan.caps[member] = cap
            plan.workloads[member] = g.workload
        plan.throughput += sum(t * n for t, n in zip(g.throughput, per_level, strict=True))
        plan.default_throughput += g.default_throughput * g.count
    return plan


def solve_by_parts(
    problem: PowerProblem, options: SolverOptions, hint: list[list[int]]
) -> PowerAssignment:
    """Solve each independent part alone (see :mod:`..components`) and add the answers up.

    Each part gets a share of the time limit by its size (at least a tenth of it); the bounds
    and objectives add, so the overall gap is within each part's. Fair (max-min) plans are one
    model: the worst-off GPU anywhere couples every group.
    """
    parts = [] if problem.fairness else independent_parts(problem)
    if len(parts) <= 1:
        return solve_power(problem, options, hint=hint)
    total = sum(len(p.problem.groups) for p in parts)
    counts: list[tuple[int, ...]] = [()] * len(problem.groups)
    statuses: list[str] = []
    objective = bound = lp = wall = 0.0
    for part in parts:
        share = max(0.1, len(part.problem.groups) / total)
        part_options = dataclasses.replace(options, time_limit_s=options.time_limit_s * share)
        part_hint = [hint[g] for g in part.group_ids]
        result = solve_power(part.problem, part_options, hint=part_hint)
        statuses.append(result.status)
        chosen = result.counts or tuple(tuple(c) for c in part_hint)
        for new, old in enumerate(part.group_ids):
            counts[old] = chosen[new]
        objective += result.objective
        bound += result.bound
        lp = -1.0 if lp < 0 or result.lp_bound < 0 else lp + result.lp_bound
        wall += result.wall_s
    worst = next((s for s in ("INFEASIBLE", "FEASIBLE") if s in statuses), statuses[0])
    return PowerAssignment(tuple(counts), worst, objective, bound, lp, wall)


def _uses(problem: PowerProblem, loads: list[float]) -> list[BudgetUse]:
    return [
        BudgetUse(b.name, b.kind, b.limit_w, b.raw_limit_w, load)
        for b, load in zip(problem.budgets, loads, strict=True)
    ]
