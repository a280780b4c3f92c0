"""Placement plans: which job replicas go on which hosts and GPUs (read → decide, no action).

`build_problem` turns the inventory, current allocations and probe findings into a plain
`PlacementProblem`; `plan_placement` finds a greedy placement (best fit, gangs all or nothing),
hands it to CP-SAT as a hint (`cpsat.solve_placement`), and explains every job left out by the
first constraint that excludes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dcctl.inventory.model import Inventory
from dcctl.planning.cpsat import PlacementHint, PlacementSolution, SolverOptions, solve_placement
from dcctl.planning.gpu_state import MILLI
from dcctl.planning.placement_input import Usage
from dcctl.planning.placement_problem import (
    RACK,
    Job,
    PlacementProblem,
    PlaceNode,
    RackBudget,
    Unit,
    make_units,
)


def build_problem(
    inventory: Inventory,
    jobs: list[Job],
    usage: Usage | None = None,
    findings: Mapping[str, tuple[str, ...]] | None = None,
    hosts: set[str] | None = None,
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
            host = inventory.hosts.get(name)
            profile = inventory.profiles.get(host.profile or "") if host else None
            if profile is None:
                continue
            used_w += profile.baseline_w or 0.0
            if profile.gpu is not None and profile.gpu.tdp_w:
                taken = sum(usage.get(name, {"gpus": {}})["gpus"].values())
                used_w += taken / MILLI * profile.gpu.tdp_w
        racks.append(RackBudget(rack.name, rack.power_budget_w, used_w))
    return PlacementProblem(tuple(nodes), tuple(jobs), tuple(racks))


# ------------------------------------------------------------------------------------- greedy


class _Free:
    """Mutable free capacity for the greedy pass."""

    def __init__(self, problem: PlacementProblem) -> None:
        self.problem = problem
        self.gpu = [list(n.gpu_free) for n in problem.nodes]
        self.cpu = [n.cpu_free for n in problem.nodes]
        self.mem = [n.mem_free for n in problem.nodes]
        self.rack_left = {r.rack: r.left_w for r in problem.racks}

    def snapshot(self) -> tuple:
        return ([g[:] for g in self.gpu], self.cpu[:], self.mem[:], dict(self.rack_left))

    def restore(self, snap: tuple) -> None:
        self.gpu, self.cpu, self.mem, self.rack_left = snap

    def power(self, job: Job, n: int) -> float:
        return job.replica_milli / MILLI * self.problem.nodes[n].gpu_tdp_w

    def fits(self, job: Job, n: int) -> int | None:
        """Share GPU index (or -1) when one replica fits on node n now, else None."""
        cpu, mem = self.cpu[n], self.mem[n]
        if (cpu is not None and cpu < job.cpu) or (mem is not None and mem < job.mem):
            return None
        rack = self.problem.nodes[n].domains.get(RACK)
        if rack in self.rack_left and self.rack_left[rack] < self.power(job, n) - 1e-9:
            return None
        gpus = self.gpu[n]
        if job.gpus:
            return -1 if sum(1 for f in gpus if f >= MILLI) >= job.gpus else None
        if job.milli:
            fitting = [g for g, f in enumerate(gpus) if f >= job.milli]
            if not fitting:
                return None
            return min(fitting, key=lambda g: (gpus[g], g))  # fullest GPU that fits
        return -1

    def tightness(self, job: Job, n: int) -> tuple:
        free_gpu = sum(max(0, f) for f in self.gpu[n]) - job.replica_milli
        cpu = self.cpu[n]
        return (free_gpu, (cpu - job.cpu) if cpu is not None else 0, n)

    def take(self, job: Job, n: int, share_gpu: int) -> tuple[int, ...]:
        if self.cpu[n] is not None:
            self.cpu[n] -= job.cpu
        if self.mem[n] is not None:
            self.mem[n] -= job.mem
        rack = self.problem.nodes[n].domains.get(RACK)
        if rack in self.rack_left:
            self.rack_left[rack] -= self.power(job, n)
        gpus = self.gpu[n]
        if job.gpus:
            taken = tuple(g for g, f in enumerate(gpus) if f >= MILLI)[: job.gpus]
            for g in taken:
                gpus[g] = 0
            return taken
        if job.milli:
            gpus[share_gpu] -= job.milli
            return (share_gpu,)
        return ()


def _place_gang(free: _Free, job: Job, candidates: tuple[int, ...]) -> list[tuple[int, int]] | None:
    """Best-fit placement of every replica of one job, or None (nothing taken)."""
    groups: list[tuple[int, ...]] = [candidates]
    if job.same is not None:
        by_domain: dict[str, list[int]] = {}
        for n in candidates:
            by_domain.setdefault(free.problem.nodes[n].domains[job.same], []).append(n)
        groups = [tuple(v) for _, v in sorted(by_domain.items())]
    for group in groups:
        snap = free.snapshot()
        out: list[tuple[int, int]] = []
        used_domains: set[str] = set()
        for _ in range(job.replicas):
            options = []
            for n in group:
                if job.spread is not None and (
                    free.problem.nodes[n].domains[job.spread] in used_domains
                ):
                    continue
                share = free.fits(job, n)
                if share is not None:
                    options.append((free.tightness(job, n), n, share))
            if not options:
                break
            _, n, share = min(options)
            free.take(job, n, share)
            out.append((n, share))
            if job.spread is not None:
                used_domains.add(free.problem.nodes[n].domains[job.spread])
        if len(out) == job.replicas:
            return out
        free.restore(snap)
    return None


def greedy_hint(problem: PlacementProblem, units: list[Unit]) -> PlacementHint:
    """Highest priority and largest jobs first, each gang best fit or not at all."""
    free = _Free(problem)
    order = sorted(
        ((u, j) for u, unit in enumerate(units) for j in unit.jobs),
        key=lambda uj: (-problem.jobs[uj[1]].priority, -problem.jobs[uj[1]].demand_milli, uj[1]),
    )
    placed = [0] * len(units)
    counts: dict[tuple[int, int], int] = {}
    shares: dict[tuple[int, int, int], int] = {}
    for u, j in order:
        job = problem.jobs[j]
        result = _place_gang(free, job, units[u].candidates)
        if result is None:
            continue
        placed[u] += 1
        for n, share in result:
            counts[u, n] = counts.get((u, n), 0) + 1
            if job.is_share:
                shares[u, n, share] = shares.get((u, n, share), 0) + 1
    return PlacementHint(tuple(placed), counts, shares)


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

    @property
    def left_out(self) -> list[JobResult]:
        """Jobs not placed."""
        return [r for r in self.results if not r.placed]


def plan_placement(problem: PlacementProblem, options: SolverOptions) -> PlacementPlan:
    """Greedy hint, CP-SAT, then per-job results with reasons for what is left out."""
    units = make_units(problem)
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
    return PlacementPlan(results, _rack_use(problem, results), solution, greedy)


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
        for j in unit.jobs:
            job = problem.jobs[j]
            if j in placed_jobs:
                mine, slots = slots[: job.replicas], slots[job.replicas :]
                replicas = tuple(ReplicaPlacement(problem.nodes[n].name, g) for n, g in mine)
                by_job[j] = JobResult(job, replicas)
            else:
                by_job[j] = JobResult(job, (), why_left_out(problem, job))
    return tuple(by_job[j] for j in range(len(problem.jobs)))


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
