"""Placement with CP-SAT: jobs on nodes and GPUs, host by host or on classes of identical hosts.

See `solve_placement` (per node, exact) and `solve_class_placement` (per class, a relaxation).
Both solve in two passes (`_two_passes`): the priority-weighted GPU demand placed, then what the
plan leaves behind.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from dcctl.errors import SolverError
from dcctl.planning.cpsat.solver import SolverOptions, make_solver, relative_gap
from dcctl.planning.gpu_state import MILLI
from dcctl.planning.placement.problem import (
    RACK,
    GpuShape,
    Job,
    PlacementHint,
    PlacementProblem,
    PlaceNode,
    Unit,
    fragmentation_of,
    minimal_gpu_shapes,
)


@dataclass(frozen=True)
class PlacementSolution:
    """What CP-SAT decided, with its verdict."""

    status: str
    placed: tuple[int, ...]  # per unit: jobs placed
    counts: dict[tuple[int, int], int]  # (unit, node) → replicas
    shares: dict[tuple[int, int, int], int]  # (unit, node, gpu) → replicas (shares only)
    whole_gpus: dict[int, tuple[int, ...]]  # node → GPU indices taken by whole-GPU replicas
    objective: float  # Σ priority × placed GPU demand (GPUs)
    bound: float  # the solver's proven bound on it
    fragmentation: int  # GPUs opened for sharing + empty nodes broken into
    wall_s: float
    node_classes: int | None = None  # solved on this many classes of identical nodes

    @property
    def gap(self) -> float:
        """Relative gap between the bound and the objective (0 when proven optimal)."""
        return relative_gap(self.objective, self.bound)


def solve_placement(
    problem: PlacementProblem,
    units: Sequence[Unit],
    options: SolverOptions,
    hint: PlacementHint | None = None,
) -> PlacementSolution:
    """Place gangs and job classes on nodes and GPUs with CP-SAT.

    Variables: per unit u, ``placed[u]`` jobs (a gang: 0 or 1) and ``x[u,n]`` replicas on node n
    with Σ_n x = replicas × placed. Whole-GPU replicas take entirely free GPUs (``w[n,g]``,
    ordered to break symmetry); shares are counted per GPU (``s[u,n,g]``) and fit in what is
    left of it. CPU, memory, same-domain (one chosen domain per gang), spread (≤ 1 replica per
    domain) and rack power (replica GPUs × TDP within what the rack has left) are constraints.
    Objective, lexicographic: Σ priority × GPU milli placed; then the least GPU milli stranded on
    nodes where no job shape fits any more (`_stranded`); then the fewest GPUs opened for
    sharing and empty nodes broken into (free capacity kept in the shapes big requests need).
    """
    model = cp_model.CpModel()
    jobs = [problem.jobs[u.jobs[0]] for u in units]
    placed, x, s, by_node = _replica_vars(model, problem, units, jobs)
    penalties: list[cp_model.IntVar] = []
    stranded: list[cp_model.IntVar] = []
    shapes = minimal_gpu_shapes(problem)
    whole_vars: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
    for n, members in by_node.items():
        node_vars = _node_constraints(model, problem, n, members, jobs, x, s, shapes)
        penalties.extend(node_vars.penalties)
        stranded.extend(node_vars.stranded)
        if node_vars.whole is not None:
            whole_vars[n] = node_vars.whole

    _domain_constraints(model, problem, units, jobs, placed, x, problem.nodes)
    _rack_power(model, problem, jobs, x, problem.nodes)

    value = _placed_value(model, jobs, placed, x, s, hint)

    keep = [*x.values(), *s.values(), *(v for pairs in whole_vars.values() for _, v in pairs)]
    try:
        outcome = _two_passes(model, options, placed, value, penalties, keep, hint, units, stranded)
    except _NoPlan as stop:
        assert hint is not None
        return _greedy_solution(problem, units, hint, stop.wall_s)
    final = outcome.solver
    whole_gpus = {
        n: tuple(g for g, var in pairs if final.value(var)) for n, pairs in whole_vars.items()
    }
    counts = {k: v for k, var in x.items() if (v := final.value(var))}
    shares = {k: v for k, var in s.items() if (v := final.value(var))}
    return PlacementSolution(
        status=outcome.status,
        placed=tuple(final.value(p) for p in placed),
        counts=counts,
        shares=shares,
        whole_gpus=whole_gpus,
        objective=outcome.best / MILLI,
        bound=outcome.bound / MILLI,
        fragmentation=fragmentation_of(problem, counts, shares),
        wall_s=outcome.wall_s,
    )


Replicas = dict[tuple[int, int], cp_model.IntVar]
ShareVars = dict[tuple[int, int, int], cp_model.IntVar]


def _replica_vars(
    model: cp_model.CpModel, problem: PlacementProblem, units: Sequence[Unit], jobs: list[Job]
) -> tuple[list[cp_model.IntVar], Replicas, ShareVars, dict[int, list[int]]]:
    """Per unit: jobs placed, replicas per candidate node, replicas per GPU for shares.

    Returns (placed, x[unit, node], s[unit, node, gpu], units by node); a gang places all its
    replicas or none (Σ_n x = replicas × placed), a spread unit at most one replica per node.
    """
    placed = [model.new_int_var(0, len(u.jobs), f"placed_{i}") for i, u in enumerate(units)]
    x: Replicas = {}
    s: ShareVars = {}
    by_node: dict[int, list[int]] = {}
    for i, (unit, job) in enumerate(zip(units, jobs, strict=True)):
        most = job.replicas * len(unit.jobs)
        for n in unit.candidates:
            cap = min(most, problem.replicas_fit(job, problem.nodes[n]) * len(unit.jobs))
            if job.spread is not None:
                cap = min(cap, len(unit.jobs))
            x[i, n] = model.new_int_var(0, cap, f"x_{i}_{n}")
            by_node.setdefault(n, []).append(i)
            if job.is_share:
                gpus = [g for g, f in enumerate(problem.nodes[n].gpu_free) if f >= job.milli]
                for g in gpus:
                    s[i, n, g] = model.new_int_var(0, cap, f"s_{i}_{n}_{g}")
                model.add(sum(s[i, n, g] for g in gpus) == x[i, n])
        model.add(sum(x[i, n] for n in unit.candidates) == job.replicas * placed[i])
    return placed, x, s, by_node


@dataclass
class _NodeVars:
    """What one node's constraints add to the objectives, and its whole-GPU booleans."""

    penalties: list[cp_model.IntVar]
    stranded: list[cp_model.IntVar]
    whole: list[tuple[int, cp_model.IntVar]] | None


def _node_constraints(
    model: cp_model.CpModel,
    problem: PlacementProblem,
    n: int,
    members: list[int],
    jobs: list[Job],
    x: Replicas,
    s: ShareVars,
    shapes: Sequence[GpuShape],
) -> _NodeVars:
    """CPU, memory, whole GPUs (ordered) and shares per GPU on node ``n``.

    Penalties: GPUs opened for sharing and an empty node broken into; stranded: GPU milli left
    where no job shape fits (see :func:`_stranded`).
    """
    node = problem.nodes[n]
    if node.cpu_free is not None:
        model.add(sum(x[i, n] * jobs[i].cpu for i in members) <= node.cpu_free)
    if node.mem_free is not None:
        model.add(sum(x[i, n] * jobs[i].mem for i in members) <= node.mem_free)
    whole_members = [i for i in members if jobs[i].gpus]
    share_members = [i for i in members if jobs[i].is_share]
    free = [g for g, f in enumerate(node.gpu_free) if f >= MILLI]
    if not whole_members and not share_members:
        stranded = _stranded(model, problem, n, members, jobs, x, {}, {}, [], shapes)
        return _NodeVars([], stranded, None)
    w = {g: model.new_bool_var(f"w_{n}_{g}") for g in free} if whole_members else {}
    for a, b in itertools.pairwise(free):
        if a in w and b in w:
            model.add(w[a] >= w[b])
    model.add(sum(w.values()) == sum(x[i, n] * jobs[i].gpus for i in whole_members))
    opened: list[cp_model.IntVar] = []
    for g, f in enumerate(node.gpu_free):
        on_g = [i for i in share_members if (i, n, g) in s]
        if not on_g:
            continue
        used = sum(s[i, n, g] * jobs[i].milli for i in on_g)
        model.add(used <= f - (MILLI * w[g] if g in w else 0))
        if f >= MILLI:  # an untouched GPU opened for sharing
            o = model.new_bool_var(f"open_{n}_{g}")
            model.add(sum(s[i, n, g] for i in on_g) == 0).only_enforce_if(~o)
            opened.append(o)
    penalties = list(opened)
    if node.gpu_free and len(free) == len(node.gpu_free):  # an empty node broken into
        broken = model.new_bool_var(f"broken_{n}")
        for i in members:
            model.add(x[i, n] == 0).only_enforce_if(~broken)
        penalties.append(broken)
    shares_on = {
        g: [s[i, n, g] for i in share_members if (i, n, g) in s] for g in range(len(node.gpu_free))
    }
    stranded = _stranded(model, problem, n, members, jobs, x, w, shares_on, opened, shapes)
    return _NodeVars(penalties, stranded, list(w.items()))


@dataclass(frozen=True)
class ClassSolution:
    """CP-SAT's counts per node class, before they are spread over the class's nodes."""

    status: str
    placed: tuple[int, ...]  # per unit: jobs placed
    counts: dict[tuple[int, int], int]  # (unit, class) → replicas
    objective: float  # Σ priority × placed GPU demand (GPUs)
    bound: float  # a bound on it for the per-node problem too (the class model relaxes it)
    wall_s: float


def solve_class_placement(
    problem: PlacementProblem,
    units: Sequence[Unit],
    classes: Sequence[Sequence[int]],
    unit_classes: Sequence[Sequence[int]],
    options: SolverOptions,
    hint: PlacementHint | None = None,
) -> ClassSolution:
    """Place units on node classes (identical nodes), counting replicas per class.

    ``classes[c]`` lists interchangeable nodes (same free state, same domains); a replica may go
    on class c when it is in ``unit_classes[u]``. Capacity is summed over a class's nodes —
    CPU, memory, whole GPUs, and share milli per group of GPUs with the same free amount — so
    this model is a relaxation of the per-node one: its bound holds for the real problem, and
    its counts still have to be spread over real nodes (which may not always work). Pass two
    minimises GPUs opened for sharing plus empty nodes broken into, counted per class.
    ``hint`` keys are (unit, class) and (unit, class, free milli of the GPU).
    """
    model = cp_model.CpModel()
    jobs = [problem.jobs[u.jobs[0]] for u in units]
    rep = [problem.nodes[members[0]] for members in classes]
    placed = [model.new_int_var(0, len(u.jobs), f"placed_{i}") for i, u in enumerate(units)]
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    s: dict[tuple[int, int, int], cp_model.IntVar] = {}
    by_class: dict[int, list[int]] = {}
    for i, (unit, job) in enumerate(zip(units, jobs, strict=True)):
        most = job.replicas * len(unit.jobs)
        for c in unit_classes[i]:
            cap = min(most, problem.copies_fit(job, rep[c]) * len(classes[c]))
            if job.spread is not None:
                cap = min(cap, len(unit.jobs))
            x[i, c] = model.new_int_var(0, cap, f"x_{i}_{c}")
            by_class.setdefault(c, []).append(i)
            if job.is_share:
                amounts = sorted({f for f in rep[c].gpu_free if f >= job.milli})
                for f in amounts:
                    s[i, c, f] = model.new_int_var(0, cap, f"s_{i}_{c}_{f}")
                model.add(sum(s[i, c, f] for f in amounts) == x[i, c])
        model.add(sum(x[i, c] for c in unit_classes[i]) == job.replicas * placed[i])

    penalties: list[cp_model.IntVar] = []
    for c, members in by_class.items():
        node, size = rep[c], len(classes[c])
        if node.cpu_free is not None:
            model.add(sum(x[i, c] * jobs[i].cpu for i in members) <= size * node.cpu_free)
        if node.mem_free is not None:
            model.add(sum(x[i, c] * jobs[i].mem for i in members) <= size * node.mem_free)
        whole = sum(x[i, c] * jobs[i].gpus for i in members if jobs[i].gpus)
        free_gpus = size * node.whole_free
        if any(jobs[i].gpus for i in members):
            model.add(whole <= free_gpus)
        for f in sorted(set(node.gpu_free)):
            on_f = [i for i in members if (i, c, f) in s]
            if not on_f:
                continue
            used = sum(s[i, c, f] * jobs[i].milli for i in on_f)
            if f >= MILLI:  # untouched GPUs: whole ones and those opened for sharing
                opened = model.new_int_var(0, free_gpus, f"open_{c}")
                model.add(used <= MILLI * opened)
                model.add(opened + whole <= free_gpus)
                penalties.append(opened)
            else:
                model.add(used <= size * node.gpu_free.count(f) * f)
        if node.gpu_free and node.whole_free == len(node.gpu_free):  # empty nodes broken into
            broken = model.new_int_var(0, size, f"broken_{c}")
            fit_one = sum(problem.copies_fit(jobs[i], node) for i in members) or 1
            model.add(sum(x[i, c] for i in members) <= broken * fit_one)
            model.add(sum(x[i, c] * jobs[i].replica_milli for i in members)
                      <= broken * node.whole_free * MILLI)  # fmt: skip
            if node.cpu_free is not None:
                model.add(sum(x[i, c] * jobs[i].cpu for i in members) <= broken * node.cpu_free)
            if node.mem_free is not None:
                model.add(sum(x[i, c] * jobs[i].mem for i in members) <= broken * node.mem_free)
            penalties.append(broken)

    _domain_constraints(model, problem, units, jobs, placed, x, rep)
    _rack_power(model, problem, jobs, x, rep)

    value = _placed_value(model, jobs, placed, x, s, hint)
    try:
        outcome = _two_passes(model, options, placed, value, penalties,
                              [*x.values(), *s.values()], hint, units)  # fmt: skip
    except _NoPlan as stop:
        assert hint is not None
        return ClassSolution("GREEDY", hint.placed, hint.counts, -1.0, -1.0, stop.wall_s)
    final = outcome.solver
    return ClassSolution(
        status=outcome.status,
        placed=tuple(final.value(p) for p in placed),
        counts={k: v for k, var in x.items() if (v := final.value(var))},
        objective=outcome.best / MILLI,
        bound=outcome.bound / MILLI,
        wall_s=outcome.wall_s,
    )


def _placed_value(
    model: cp_model.CpModel,
    jobs: Sequence[Job],
    placed: Sequence[cp_model.IntVar],
    x: Mapping[tuple[int, int], cp_model.IntVar],
    s: Mapping[tuple[int, int, int], cp_model.IntVar],
    hint: PlacementHint | None,
) -> cp_model.LinearExprT:
    """Maximise Σ priority × GPU milli placed; hint the greedy plan. Returns the objective."""
    value = sum(placed[i] * job.priority * job.demand_milli for i, job in enumerate(jobs))
    model.maximize(value)
    if hint is not None:
        for i, count in enumerate(hint.placed):
            model.add_hint(placed[i], count)
        for key, var in x.items():
            model.add_hint(var, hint.counts.get(key, 0))
        for share_key, var in s.items():
            model.add_hint(var, hint.shares.get(share_key, 0))
    return value


def _stranded(
    model: cp_model.CpModel,
    problem: PlacementProblem,
    n: int,
    members: Sequence[int],
    jobs: Sequence[Job],
    x: dict[tuple[int, int], cp_model.IntVar],
    w: Mapping[int, cp_model.IntVar],
    shares_on: Mapping[int, Sequence[cp_model.IntVar]],
    opened: Sequence[cp_model.IntVar],
    shapes: Sequence[GpuShape],
) -> list[cp_model.IntVar]:
    """GPU milli node n would strand: its free GPU capacity when no job shape fits it any more.

    A shape fits when the node's whole free GPUs (after whole-GPU replicas and GPUs opened for
    sharing), CPU and memory left cover it; a share fits on a whole free GPU or on a partly
    used GPU that gets no new share and has room. ``shapes`` are the minimal job shapes
    (`minimal_gpu_shapes`). Returns the stranded amount's variable (none when the node has no
    free GPU capacity to strand).
    """
    node = problem.nodes[n]
    total = sum(max(0, f) for f in node.gpu_free)
    if total == 0:
        return []
    used = sum(x[i, n] * jobs[i].replica_milli for i in members)
    whole_left = node.whole_free - sum(w.values()) - sum(opened)
    cpu_left = mem_left = None
    if node.cpu_free is not None:
        cpu_left = node.cpu_free - sum(x[i, n] * jobs[i].cpu for i in members)
    if node.mem_free is not None:
        mem_left = node.mem_free - sum(x[i, n] * jobs[i].mem for i in members)
    spare: dict[int, cp_model.IntVar] = {}  # a partly used GPU that gets no new share
    fits: list[cp_model.IntVar] = []
    for gpus, milli, cpu, mem, models in shapes:
        if models is not None and node.model not in models:
            continue
        partial = [g for g, f in enumerate(node.gpu_free) if milli <= f < MILLI] if milli else []
        if gpus > node.whole_free or (milli and not node.whole_free and not partial):
            continue  # never fits this node, whatever the plan
        fit = model.new_bool_var(f"fits_{n}_{gpus}_{milli}_{cpu}_{mem}")
        if cpu_left is not None and cpu:
            model.add(cpu_left >= cpu).only_enforce_if(fit)
        if mem_left is not None and mem:
            model.add(mem_left >= mem).only_enforce_if(fit)
        if gpus:
            model.add(whole_left >= gpus).only_enforce_if(fit)
        else:
            ways = []
            if node.whole_free:
                on_whole = model.new_bool_var(f"whole_left_{n}_{milli}_{cpu}_{mem}")
                model.add(whole_left >= 1).only_enforce_if(on_whole)
                ways.append(on_whole)
            for g in partial:
                if g not in spare:
                    spare[g] = model.new_bool_var(f"spare_{n}_{g}")
                    if shares_on.get(g):
                        model.add(sum(shares_on[g]) == 0).only_enforce_if(spare[g])
                ways.append(spare[g])
            model.add(sum(ways) >= fit)
        fits.append(fit)
    left = model.new_int_var(0, total, f"stranded_{n}")
    if fits:
        some = model.new_bool_var(f"fits_any_{n}")
        model.add(sum(fits) >= some)
        model.add(left >= total - used - total * some)
    else:
        model.add(left >= total - used)
    return [left]


class _NoPlan(Exception):
    """CP-SAT found no plan within its limit (the greedy hint stands)."""

    def __init__(self, wall_s: float) -> None:
        super().__init__(f"no plan in {wall_s:.1f} s")
        self.wall_s = wall_s


def _greedy_solution(
    problem: PlacementProblem, units: Sequence[Unit], hint: PlacementHint, wall_s: float
) -> PlacementSolution:
    """The greedy hint as the plan, when CP-SAT found nothing better in its time."""
    value = sum(
        count * problem.jobs[unit.jobs[0]].priority * problem.jobs[unit.jobs[0]].demand_milli
        for count, unit in zip(hint.placed, units, strict=True)
    )
    return PlacementSolution(
        status="GREEDY",
        placed=hint.placed,
        counts=hint.counts,
        shares=hint.shares,
        whole_gpus=hint.whole_gpus,
        objective=value / MILLI,
        bound=_trivial_bound(problem, units) / MILLI,
        fragmentation=fragmentation_of(problem, hint.counts, hint.shares),
        wall_s=wall_s,
    )


def _trivial_bound(problem: PlacementProblem, units: Sequence[Unit]) -> int:
    """Every job placed: the bound when the solver proved nothing."""
    return sum(
        len(unit.jobs)
        * problem.jobs[unit.jobs[0]].priority
        * problem.jobs[unit.jobs[0]].demand_milli
        for unit in units
    )


@dataclass(frozen=True)
class _Outcome:
    status: str
    best: int
    bound: float
    solver: cp_model.CpSolver  # the one whose values are the plan
    wall_s: float


def _two_passes(
    model: cp_model.CpModel,
    options: SolverOptions,
    placed: Sequence[cp_model.IntVar],
    value: cp_model.LinearExprT,
    penalties: Sequence[cp_model.IntVar],
    keep: Sequence[cp_model.IntVar],
    hint: PlacementHint | None,
    units: Sequence[Unit],
    stranded: Sequence[cp_model.IntVar] = (),
) -> _Outcome:
    """Pass one maximises ``value``; pass two keeps it and minimises what it leaves behind.

    Pass two's objective is lexicographic: GPU milli stranded (``stranded``) first, then the
    penalties (GPUs opened for sharing, empty nodes broken into) as tie-breakers.

    Raises `_NoPlan` when pass one found no plan within its limit although a hint was given
    (the hint itself is then the plan to use).

    When the hint already places every job it reaches the trivial bound: pass one is then a
    formality (the hint is fixed) and the time goes to pass two, which gets a quarter of the
    time limit (it only tidies what pass one placed).
    """
    solver = make_solver(options)
    if hint is not None and all(c == len(u.jobs) for c, u in zip(hint.placed, units, strict=True)):
        for var, count in zip(placed, hint.placed, strict=True):
            model.add(var == count)
    status = solver.solve(model)
    wall = solver.wall_time
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) and hint is not None:
        raise _NoPlan(wall)  # nothing within the limit: the caller keeps the greedy plan
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise SolverError(
            f"the placement solver stopped without a plan ({solver.status_name(status)}); "
            "try a longer --time-limit"
        )
    name = solver.status_name(status)
    if name == "OPTIMAL" and solver.objective_value < solver.best_objective_bound - 0.5:
        name = "FEASIBLE"  # stopped at the gap limit
    best = round(solver.objective_value)
    bound = solver.best_objective_bound
    final = solver
    if penalties or stranded:
        model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in OR-Tools
        for var in [*placed, *keep, *penalties, *stranded]:
            model.add_hint(var, solver.value(var))
        model.add(value >= best)
        model.minimize((len(penalties) + 1) * sum(stranded) + sum(penalties))
        second = make_solver(
            dataclasses.replace(options, time_limit_s=max(0.5, options.time_limit_s / 4))
        )
        if second.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            final = second
            wall += second.wall_time
    return _Outcome(name, best, bound, final, wall)


def _domain_constraints(
    model: cp_model.CpModel,
    problem: PlacementProblem,
    units: Sequence[Unit],
    jobs: Sequence[Job],
    placed: Sequence[cp_model.IntVar],
    x: dict[tuple[int, int], cp_model.IntVar],
    where: Sequence[PlaceNode],
) -> None:
    """``same``: each gang's replicas in one domain; ``spread``: one replica per domain.

    ``x[i, k]`` counts unit i's replicas on place k (a node, or a node class); ``where[k]`` is
    a node that stands for the place (its domains).
    """
    places_of: dict[int, list[int]] = {}
    for i, k in x:
        places_of.setdefault(i, []).append(k)
    for i, (unit, job) in enumerate(zip(units, jobs, strict=True)):
        places = places_of.get(i, [])
        if job.same is not None:
            domains: dict[str, list[int]] = {}
            for k in places:
                domains.setdefault(where[k].domains[job.same], []).append(k)
            # Gangs per domain: each gang's replicas all in its one domain.
            gangs = {d: model.new_int_var(0, len(unit.jobs), f"same_{i}_{d}") for d in domains}
            model.add(sum(gangs.values()) == placed[i])
            for d, ks in domains.items():
                model.add(sum(x[i, k] for k in ks) == job.replicas * gangs[d])
        if job.spread is not None:
            spread: dict[str, list[int]] = {}
            for k in places:
                spread.setdefault(where[k].domains[job.spread], []).append(k)
            # At most one replica of each placed gang per domain: then the replicas can be
            # dealt out round robin, domain by domain, into gangs with distinct domains.
            for ks in spread.values():
                model.add(sum(x[i, k] for k in ks) <= placed[i])


def _rack_power(
    model: cp_model.CpModel,
    problem: PlacementProblem,
    jobs: Sequence[Job],
    x: dict[tuple[int, int], cp_model.IntVar],
    where: Sequence[PlaceNode],
) -> None:
    """Replica GPUs × TDP within what each budgeted rack has left (watts × 1,000, rounded safe)."""
    for budget in problem.racks:
        terms = [
            var * math.ceil(jobs[i].replica_milli * where[k].gpu_tdp_w)
            for (i, k), var in x.items()
            if where[k].domains.get(RACK) == budget.rack
            and jobs[i].replica_milli
            and where[k].gpu_tdp_w
        ]
        if terms:
            model.add(sum(terms) <= math.floor(max(0.0, budget.left_w) * MILLI))
