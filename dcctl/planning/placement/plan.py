"""Placement plans: which job replicas go on which hosts and GPUs (read → decide, no action).

`build_problem` turns the inventory, current allocations and probe findings into a plain
`PlacementProblem`; `plan_placement` finds a greedy placement (best fit, gangs all or nothing),
hands it to CP-SAT as a hint (`cpsat.solve_placement`), and explains every job left out by the
first constraint that excludes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from dcctl.inventory.model import Inventory
from dcctl.planning.cpsat.placement import PlacementSolution, solve_placement
from dcctl.planning.gpu_state import MILLI
from dcctl.planning.placement.classes import node_classes, solve_by_classes, worth_aggregating
from dcctl.planning.placement.greedy import FreeCapacity, greedy_hint
from dcctl.planning.placement.input_files import Usage
from dcctl.planning.placement.problem import (
    RACK,
    Job,
    PlacementProblem,
    PlaceNode,
    RackBudget,
    Unit,
    make_units,
    stranded_milli,
)
from dcctl.planning.solver_options import SolverOptions


def build_problem(
    inventory: Inventory,
    jobs: list[Job],
    usage: Usage | None = None,
    findings: Mapping[str, tuple[str, ...]] | None = None,
    hosts: AbstractSet[str] | None = None,
) -> PlacementProblem:
    """Free capacity of every (selected) host with a profile, and rack power left."""
    usage = usage or {}
    findings = findings or {}
    nodes = []
    for name, host in inventory.hosts.items():
        if hosts is not None and name not in hosts:
            continue
        profile = inventory.profiles.get(host.profile or "")
        if profile is None:
            continue
        gpu = profile.gpu
        used = usage.get(name, {"gpus": {}, "cpu": 0, "mem": 0})
        count = gpu.count if gpu is not None else 0
        gpu_free = tuple(MILLI - used["gpus"].get(i, 0) for i in range(count))
        domains = dict(host.domains)
        if host.rack is not None:
            domains[RACK] = host.rack
        nodes.append(
            PlaceNode(
                name=name,
                model=gpu.model if gpu is not None else None,
                gpu_free=gpu_free,
                cpu_free=None
                if profile.cpus is None
                else round(profile.cpus * MILLI) - used["cpu"],
                mem_free=(
                    None
                    if profile.memory_gib is None
                    else round(profile.memory_gib * 1024) - used["mem"]
                ),
                domains=domains,
                findings=findings.get(name, ()),
                gpu_tdp_w=(gpu.tdp_w or 0.0) if gpu is not None else 0.0,
            )
        )
    racks = []
    for rack in inventory.racks.values():
        if rack.power_budget_w is None:
            continue
        used_w = 0.0
        for name in rack.hosts:
            member = inventory.hosts.get(name)
            profile = inventory.profiles.get(member.profile or "") if member else None
            if profile is None:
                continue
            used_w += profile.baseline_w or 0.0
            if profile.gpu is not None and profile.gpu.tdp_w:
                taken = sum(usage.get(name, {"gpus": {}})["gpus"].values())
                used_w += taken / MILLI * profile.gpu.tdp_w
        racks.append(RackBudget(rack.name, rack.power_budget_w, used_w))
    return PlacementProblem(tuple(nodes), tuple(jobs), tuple(racks))


# --------------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class ReplicaPlacement:
    """One replica: its host and GPU indices (a share names one GPU)."""

    host: str
    gpus: tuple[int, ...]


@dataclass(frozen=True)
class JobResult:
    """A job's outcome: its replicas' places, or why it was left out."""

    job: Job
    replicas: tuple[ReplicaPlacement, ...]
    reason: str | None = None

    @property
    def placed(self) -> bool:
        """True when every replica has a place."""
        return self.reason is None


@dataclass(frozen=True)
class RackUse:
    """GPU allocation and power of one rack before and after the plan."""

    rack: str
    gpus: int
    allocated_before: float  # GPUs (fractions count)
    allocated_after: float
    power_left_w: float | None  # after the plan; None without a budget


@dataclass(frozen=True)
class PlacementPlan:
    """The plan: per-job results, per-rack use, the solver's verdict."""

    results: tuple[JobResult, ...]
    racks: tuple[RackUse, ...]
    solution: PlacementSolution
    greedy_objective: float
    stranded_milli: int = 0  # free GPU capacity on hosts where no job shape fits any more
    stranded_hosts: int = 0

    @property
    def left_out(self) -> list[JobResult]:
        """Jobs not placed."""
        return [r for r in self.results if not r.placed]


def plan_placement(
    problem: PlacementProblem, options: SolverOptions, aggregate: bool | None = None
) -> PlacementPlan:
    """Greedy hint, CP-SAT, then per-job results with reasons for what is left out.

    ``aggregate``: solve on classes of identical nodes (True), per node (False), or per node
    unless the fleet is large and its nodes fall into few classes (None).
    """
    units = make_units(problem)
    classes = node_classes(problem, units) if aggregate is not False else None
    if classes is not None and (aggregate or worth_aggregating(problem, classes)):
        solution, greedy = solve_by_classes(problem, units, classes, options)
        results = _results(problem, units, solution)
        return PlacementPlan(
            results, _rack_use(problem, results), solution, greedy, *_stranded(problem, results)
        )
    hint = greedy_hint(problem, units)
    greedy = (
        sum(
            hint.placed[u]
            * problem.jobs[unit.jobs[0]].priority
            * problem.jobs[unit.jobs[0]].demand_milli
            for u, unit in enumerate(units)
        )
        / MILLI
    )
    solution = solve_placement(problem, units, options, hint)
    results = _results(problem, units, solution)
    return PlacementPlan(
        results, _rack_use(problem, results), solution, greedy, *_stranded(problem, results)
    )


def _stranded(problem: PlacementProblem, results: tuple[JobResult, ...]) -> tuple[int, int]:
    """Stranded GPU milli and hosts after the plan (every replica taken from the free state)."""
    free = FreeCapacity(problem)
    index = {node.name: n for n, node in enumerate(problem.nodes)}
    for result in results:
        for replica in result.replicas:
            n = index[replica.host]
            share = replica.gpus[0] if result.job.is_share else -1
            free.take(result.job, n, share)
    return stranded_milli(problem, free.gpu, free.cpu, free.mem)


def _results(
    problem: PlacementProblem, units: list[Unit], solution: PlacementSolution
) -> tuple[JobResult, ...]:
    whole_left = {n: list(g) for n, g in solution.whole_gpus.items()}
    by_job: dict[int, JobResult] = {}
    for u, unit in enumerate(units):
        job0 = problem.jobs[unit.jobs[0]]
        slots: list[tuple[int, tuple[int, ...]]] = []  # one per replica
        for n in unit.candidates:
            count = solution.counts.get((u, n), 0)
            if not count:
                continue
            if job0.is_share:
                for g, _ in enumerate(problem.nodes[n].gpu_free):
                    slots.extend([(n, (g,))] * solution.shares.get((u, n, g), 0))
            else:
                for _ in range(count):
                    take = whole_left.get(n, [])[: job0.gpus]
                    whole_left[n] = whole_left.get(n, [])[job0.gpus :]
                    slots.append((n, tuple(take)))
        placed_jobs = unit.jobs[: solution.placed[u]]
        for j, mine in zip(placed_jobs, _deal(problem, job0, slots, len(placed_jobs)), strict=True):
            replicas = tuple(ReplicaPlacement(problem.nodes[n].name, g) for n, g in mine)
            by_job[j] = JobResult(problem.jobs[j], replicas)
        reason = None  # the unit's jobs are alike: one reason for all left out
        for j in unit.jobs[len(placed_jobs) :]:
            reason = reason or why_left_out(problem, problem.jobs[j])
            by_job[j] = JobResult(problem.jobs[j], (), reason)
    return tuple(by_job[j] for j in range(len(problem.jobs)))


def _deal(
    problem: PlacementProblem, job: Job, slots: list[tuple[int, tuple[int, ...]]], gangs: int
) -> list[list[tuple[int, tuple[int, ...]]]]:
    """Deal a unit's replica slots into its placed gangs, keeping each gang's constraints.

    Slots are sorted by the domain that matters: ``same`` gangs take consecutive slots (each
    domain holds whole gangs), ``spread`` gangs take every ``gangs``-th slot (a domain holds at
    most one replica per gang, so no gang gets two in one domain).
    """
    kind = job.same or job.spread
    if kind is not None:
        slots = sorted(slots, key=lambda slot: (problem.nodes[slot[0]].domains[kind], slot[0]))
    if job.spread is not None:
        return [slots[g::gangs] for g in range(gangs)]
    return [slots[g * job.replicas : (g + 1) * job.replicas] for g in range(gangs)]


def why_left_out(problem: PlacementProblem, job: Job) -> str:
    """The first constraint that rules the job out, checked from the most basic up."""
    nodes = problem.nodes
    if job.replica_milli:
        gpu_nodes = [n for n in nodes if n.model is not None and n.gpu_free]
        if not gpu_nodes:
            return "no host has GPUs"
        if job.models is not None:
            gpu_nodes = [n for n in gpu_nodes if n.model in job.models]
            if not gpu_nodes:
                return f"models: no host has {' or '.join(sorted(job.models))}"
        pool = gpu_nodes
    else:
        pool = list(nodes)
    if job.avoid_findings:
        pool = [n for n in pool if not n.findings]
        if not pool:
            return "avoid_findings: every eligible host has probe findings"
    for key, kind in (("same", job.same), ("spread", job.spread)):
        if kind is not None:
            pool = [n for n in pool if kind in n.domains]
            if not pool:
                return f"{key}: no eligible host is in a {kind}"
    if job.spread is not None:
        domains = {n.domains[job.spread] for n in pool}
        if len(domains) < job.replicas:
            return (f"spread: {job.replicas} replicas need {job.replicas} different "
                    f"{job.spread}s, only {len(domains)} have eligible hosts")  # fmt: skip
    fitting = [n for n in pool if problem.replicas_fit(job, n) >= 1]
    if not fitting:
        return "capacity: " + _short_of(job, pool)
    if job.same is not None:
        best = max(
            sum(problem.replicas_fit(job, n) for n in fitting if n.domains[job.same] == d)
            for d in {n.domains[job.same] for n in fitting}
        )
        if best < job.replicas:
            return (f"same: no single {job.same} has room for {job.replicas} replicas "
                    f"(at most {best})")  # fmt: skip
    total = sum(problem.replicas_fit(job, n) for n in fitting)
    if total < job.replicas:
        return f"capacity: only {total} of {job.replicas} replicas fit in the free capacity"
    if problem.racks and job.replica_milli:
        left = {r.rack: r.left_w for r in problem.racks}
        need = [job.replica_milli / MILLI * n.gpu_tdp_w for n in fitting]
        if all(
            n.domains.get(RACK) in left and left[n.domains[RACK]] < w - 1e-9
            for n, w in zip(fitting, need, strict=True)
        ):
            most = max(left.values())
            return (
                f"rack power: a replica needs {max(need):.0f} W, "
                f"the most any rack has left is {most:.0f} W"
            )
    return "capacity: taken by jobs of higher (or equal) priority in this plan"


def _short_of(job: Job, pool: list[PlaceNode]) -> str:
    """Which resource no eligible host has enough of for one replica."""
    parts = []
    if job.gpus and all(n.whole_free < job.gpus for n in pool):
        parts.append(
            f"no eligible host has {job.gpus} free GPUs (most: {max(n.whole_free for n in pool)})"
        )
    if job.milli and all(max(n.gpu_free, default=0) < job.milli for n in pool):
        parts.append(f"no eligible GPU has {job.milli / MILLI:g} of a GPU free")
    if job.cpu and all(n.cpu_free is not None and n.cpu_free < job.cpu for n in pool):
        parts.append(f"no eligible host has {job.cpu / MILLI:g} CPUs free")
    if job.mem and all(n.mem_free is not None and n.mem_free < job.mem for n in pool):
        parts.append(f"no eligible host has {job.mem / 1024:g} GiB free")
    return (
        "; ".join(parts)
        or "no eligible host has room for one replica (CPU, memory and GPUs together)"
    )


def _rack_use(problem: PlacementProblem, results: tuple[JobResult, ...]) -> tuple[RackUse, ...]:
    before: dict[str, float] = {}
    total: dict[str, int] = {}
    rack_of: dict[str, str] = {}
    tdp: dict[str, float] = {}
    for n in problem.nodes:
        rack = n.domains.get(RACK)
        if rack is None or not n.gpu_free:
            continue
        rack_of[n.name] = rack
        tdp[n.name] = n.gpu_tdp_w
        total[rack] = total.get(rack, 0) + len(n.gpu_free)
        before[rack] = before.get(rack, 0.0) + sum(MILLI - f for f in n.gpu_free) / MILLI
    after = dict(before)
    power = {r.rack: r.left_w for r in problem.racks}
    for result in results:
        for replica in result.replicas:
            rack = rack_of.get(replica.host)
            if rack is None:
                continue
            gpus = result.job.replica_milli / MILLI
            after[rack] += gpus
            if rack in power:
                power[rack] -= gpus * tdp[replica.host]
    return tuple(
        RackUse(rack, total[rack], before[rack], after[rack], power.get(rack))
        for rack in sorted(total)
    )
