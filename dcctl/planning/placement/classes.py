"""Node classes: identical nodes solved as one, so that thousands of nodes plan in seconds.

Nodes are interchangeable for placement when they have the same free state (GPU model, the free
amount of each GPU, CPU, memory, GPU TDP, probe findings where a job avoids them) and sit in the
same domain of every kind a constraint looks at: the rack when racks have power budgets, and
each kind a job's ``same`` or ``spread`` names. CP-SAT counts replicas per class
(`cpsat.solve_class_placement`, a relaxation of the per-node model, so its bound holds for the
real problem); the counts are then spread over each class's real nodes best fit, and whatever
does not fit there — or was left out — is tried once more, greedily, over every node.
The greedy hint is made on the classes too, spread the same way, and the better plan wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dcctl.planning.cpsat.placement import (
    ClassSolution,
    PlacementSolution,
    solve_class_placement,
)
from dcctl.planning.gpu_state import MILLI
from dcctl.planning.placement.greedy import FreeCapacity, greedy_hint, place_gang
from dcctl.planning.placement.problem import (
    RACK,
    PlacementHint,
    PlacementProblem,
    PlaceNode,
    Unit,
    fragmentation_of,
    stranded_milli,
)
from dcctl.planning.solver_options import SolverOptions

#: ``plan place`` solves on node classes from this many nodes on (when classes are few).
AGGREGATE_FROM = 256


@dataclass(frozen=True)
class NodeClasses:
    """Interchangeable nodes, and the classes each unit may use."""

    members: tuple[tuple[int, ...], ...]  # per class: node indices
    unit_classes: tuple[tuple[int, ...], ...]  # per unit: class indices


def node_classes(problem: PlacementProblem, units: Sequence[Unit]) -> NodeClasses:
    """Group the problem's nodes into classes of interchangeable nodes."""
    kinds = {k for job in problem.jobs for k in (job.same, job.spread) if k is not None}
    if problem.racks:
        kinds.add(RACK)
    ordered = sorted(kinds)
    avoid = any(job.avoid_findings for job in problem.jobs)
    groups: dict[tuple[object, ...], list[int]] = {}
    for n, node in enumerate(problem.nodes):
        key = (
            node.model,
            tuple(sorted(node.gpu_free)),
            node.cpu_free,
            node.mem_free,
            node.gpu_tdp_w,
            avoid and bool(node.findings),
            tuple(node.domains.get(k) for k in ordered),
        )
        groups.setdefault(key, []).append(n)
    members = tuple(tuple(nodes) for nodes in groups.values())
    class_of = {n: c for c, nodes in enumerate(members) for n in nodes}
    unit_classes = tuple(tuple(sorted({class_of[n] for n in u.candidates})) for u in units)
    return NodeClasses(members, unit_classes)


def worth_aggregating(problem: PlacementProblem, classes: NodeClasses) -> bool:
    """Many nodes and at most half as many classes: the class model pays off."""
    return len(problem.nodes) >= AGGREGATE_FROM and 2 * len(classes.members) <= len(problem.nodes)


def class_hint(
    problem: PlacementProblem, units: Sequence[Unit], classes: NodeClasses
) -> PlacementHint:
    """The greedy pass run on one pseudo-node per class (its capacity summed).

    Keys are (unit, class) and (unit, class, free milli of the GPU a share went on), as
    `cpsat.solve_class_placement` expects; feasible for the class model, not always for nodes.
    """
    pseudo = _pseudo_problem(problem, classes)
    pseudo_units = [Unit(u.jobs, classes.unit_classes[i]) for i, u in enumerate(units)]
    hint = greedy_hint(pseudo, pseudo_units)
    shares: dict[tuple[int, int, int], int] = {}
    for (u, c, g), k in hint.shares.items():
        key = (u, c, pseudo.nodes[c].gpu_free[g])
        shares[key] = shares.get(key, 0) + k
    return PlacementHint(hint.placed, hint.counts, shares)


def _pseudo_problem(problem: PlacementProblem, classes: NodeClasses) -> PlacementProblem:
    nodes = []
    for c, members in enumerate(classes.members):
        rep, k = problem.nodes[members[0]], len(members)
        nodes.append(
            PlaceNode(
                name=f"class-{c}",
                model=rep.model,
                gpu_free=rep.gpu_free * k,
                cpu_free=None if rep.cpu_free is None else rep.cpu_free * k,
                mem_free=None if rep.mem_free is None else rep.mem_free * k,
                domains=rep.domains,
                findings=rep.findings,
                gpu_tdp_w=rep.gpu_tdp_w,
            )
        )
    return PlacementProblem(tuple(nodes), problem.jobs, problem.racks)


@dataclass
class _NodePlan:
    """Replicas on real nodes, built up one gang at a time."""

    placed: list[int]
    counts: dict[tuple[int, int], int]
    shares: dict[tuple[int, int, int], int]
    whole: dict[int, list[int]]
    free: FreeCapacity | None = None  # what is left once the plan is in

    def add(self, u: int, result: list[tuple[int, tuple[int, ...]]], share: bool) -> None:
        """Record one placed job of unit u (its replicas' nodes and GPUs)."""
        self.placed[u] += 1
        for n, gpus in result:
            self.counts[u, n] = self.counts.get((u, n), 0) + 1
            if share:
                self.shares[u, n, gpus[0]] = self.shares.get((u, n, gpus[0]), 0) + 1
            else:
                self.whole.setdefault(n, []).extend(gpus)


def spread_over_nodes(
    problem: PlacementProblem,
    units: Sequence[Unit],
    classes: NodeClasses,
    placed: Sequence[int],
    counts: Mapping[tuple[int, int], int],
) -> _NodePlan:
    """Turn per-class counts into replicas on real nodes; then place what is left, greedily.

    Gangs first (highest priority, largest first), each best fit over the nodes of the classes
    its unit was given; then single-replica jobs, best fit within their class. A job that
    does not fit where the class model put it, and every job it left out, gets one greedy try
    over all its candidate nodes (a unit stops at its first failure: its jobs are identical).
    """
    free = FreeCapacity(problem)
    plan = _NodePlan([0] * len(units), {}, {}, {}, free)
    class_of = {n: c for c, nodes in enumerate(classes.members) for n in nodes}
    classes_of: dict[int, list[tuple[int, int]]] = {}
    for (u, c), k in counts.items():
        classes_of.setdefault(u, []).append((c, k))
    order = sorted(
        range(len(units)),
        key=lambda u: (
            problem.jobs[units[u].jobs[0]].replicas == 1,  # gangs first
            -problem.jobs[units[u].jobs[0]].priority,
            -problem.jobs[units[u].jobs[0]].replica_milli,
            u,
        ),
    )
    waiting: dict[int, int] = {}  # unit → jobs still to place
    for u in order:
        unit, job = units[u], problem.jobs[units[u].jobs[0]]
        missed = len(unit.jobs) - placed[u]
        given = sorted(classes_of.get(u, []))
        if job.replicas > 1:  # gangs: each within the replicas per class the unit was given
            nodes = tuple(sorted(n for c, _ in given for n in classes.members[c]))
            quota = (class_of, dict(given))
            for _ in range(placed[u]):
                result = place_gang(free, job, nodes, quota)
                if result is None:
                    missed += 1
                else:
                    plan.add(u, result, job.is_share)
        else:  # single replicas: each class's count within that class
            for c, k in given:
                for _ in range(k):
                    result = place_gang(free, job, classes.members[c])
                    if result is None:
                        missed += 1
                    else:
                        plan.add(u, result, job.is_share)
        if missed:
            waiting[u] = missed
    for u in waiting:  # in the order above
        job = problem.jobs[units[u].jobs[0]]
        for _ in range(waiting[u]):
            result = place_gang(free, job, units[u].candidates)
            if result is None:
                break
            plan.add(u, result, job.is_share)
    return plan


def _objective(problem: PlacementProblem, units: Sequence[Unit], placed: Sequence[int]) -> int:
    return sum(
        placed[u] * problem.jobs[unit.jobs[0]].priority * problem.jobs[unit.jobs[0]].demand_milli
        for u, unit in enumerate(units)
    )


def solve_by_classes(
    problem: PlacementProblem,
    units: Sequence[Unit],
    classes: NodeClasses,
    options: SolverOptions,
) -> tuple[PlacementSolution, float]:
    """Solve on node classes and spread the result over nodes; also the greedy's objective.

    Of the solver's plan and the greedy hint's (both spread over nodes), the one placing more
    priority-weighted demand wins (then the less fragmenting). The bound is the class model's.
    """
    hint = class_hint(problem, units, classes)
    greedy = spread_over_nodes(problem, units, classes, hint.placed, hint.counts)
    solved: ClassSolution = solve_class_placement(
        problem, units, classes.members, classes.unit_classes, options, hint
    )
    plan = spread_over_nodes(problem, units, classes, solved.placed, solved.counts)
    greedy_value = _objective(problem, units, greedy.placed)

    def rank(p: _NodePlan) -> tuple[int, int, int]:
        value = _objective(problem, units, p.placed)
        assert p.free is not None
        left, _ = stranded_milli(problem, p.free.gpu, p.free.cpu, p.free.mem)
        return (value, -left, -fragmentation_of(problem, p.counts, p.shares))

    best = max((plan, greedy), key=rank)
    value = _objective(problem, units, best.placed)
    if solved.status == "GREEDY":  # the class model found nothing in its time
        bound = float(max(_objective(problem, units, [len(u.jobs) for u in units]), value))
        status = "GREEDY"
    else:
        bound = max(solved.bound * MILLI, value)
        status = "OPTIMAL" if value >= bound - 0.5 else "FEASIBLE"
    solution = PlacementSolution(
        status=status,
        placed=tuple(best.placed),
        counts=best.counts,
        shares=best.shares,
        whole_gpus={n: tuple(g) for n, g in best.whole.items()},
        objective=value / MILLI,
        bound=bound / MILLI,
        fragmentation=fragmentation_of(problem, best.counts, best.shares),
        wall_s=solved.wall_s,
        node_classes=len(classes.members),
    )
    return solution, greedy_value / MILLI
