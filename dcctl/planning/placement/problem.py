"""The placement problem as plain data: free capacity per node, and the jobs to place.

A job is a gang of identical replicas (all place or none). Each replica asks for whole GPUs
(``gpus: 2``) or a share of one GPU (``gpus: 0.25``), CPUs and memory, and may restrict GPU
models. Constraints: ``same: KIND`` puts every replica in one domain of that kind (``rack`` or an
inventory domain kind such as ``nvlink`` or ``leaf_switch``); ``spread: KIND`` puts each replica
in a different one (anti-affinity); ``avoid_findings`` keeps off hosts a probe flagged.

Quantities are integers: milli-GPU (1,000 = one GPU), milli-CPU and MiB.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dcctl.planning.gpu_state import MILLI
from dcctl.source.diagnostics import Loc

RACK = "rack"


@dataclass(frozen=True)
class PlaceNode:
    """One host's free capacity and where it sits."""

    name: str
    model: str | None
    gpu_free: tuple[int, ...]  # free milli per GPU index
    cpu_free: int | None  # milli-CPU; None = not limited (unknown)
    mem_free: int | None  # MiB; None = not limited (unknown)
    domains: dict[str, str] = field(default_factory=dict)  # kind (incl. "rack") → name
    findings: tuple[str, ...] = ()  # why a probe flagged it
    gpu_tdp_w: float = 0.0

    @property
    def whole_free(self) -> int:
        """GPUs with nothing on them."""
        return sum(1 for f in self.gpu_free if f >= MILLI)


@dataclass(frozen=True)
class Job:
    """A gang of identical replicas."""

    name: str
    replicas: int
    gpus: int  # whole GPUs per replica (0 for a share or CPU-only)
    milli: int  # a share of one GPU (1..999) when gpus == 0; 0 otherwise
    cpu: int  # milli-CPU per replica
    mem: int  # MiB per replica
    priority: int = 1
    models: frozenset[str] | None = None
    same: str | None = None
    spread: str | None = None
    avoid_findings: bool = False
    loc: Loc | None = None

    @property
    def is_share(self) -> bool:
        """A replica takes part of one GPU."""
        return self.gpus == 0 and self.milli > 0

    @property
    def replica_milli(self) -> int:
        """GPU demand of one replica in milli-GPU."""
        return self.gpus * MILLI + self.milli

    @property
    def demand_milli(self) -> int:
        """GPU demand of the whole gang in milli-GPU."""
        return self.replicas * self.replica_milli

    @property
    def signature(self) -> tuple[object, ...]:
        """What makes two jobs interchangeable to the solver."""
        return (self.gpus, self.milli, self.cpu, self.mem, self.priority, self.models,
                self.same, self.spread, self.avoid_findings, self.replicas)  # fmt: skip


@dataclass(frozen=True)
class RackBudget:
    """Power left for new jobs in one rack (budget − host baselines − running jobs)."""

    rack: str
    budget_w: float
    used_w: float

    @property
    def left_w(self) -> float:
        """Watts still available."""
        return self.budget_w - self.used_w


@dataclass(frozen=True)
class PlacementProblem:
    """Nodes with their free capacity, jobs to place and rack power left."""

    nodes: tuple[PlaceNode, ...]
    jobs: tuple[Job, ...]
    racks: tuple[RackBudget, ...] = ()

    def node_ok(self, job: Job, node: PlaceNode) -> bool:
        """Static eligibility (model, findings, domain membership), ignoring free capacity."""
        if job.avoid_findings and node.findings:
            return False
        if job.gpus or job.milli:
            if node.model is None or not node.gpu_free:
                return False
            if job.models is not None and node.model not in job.models:
                return False
        for kind in (job.same, job.spread):
            if kind is not None and kind not in node.domains:
                return False
        return True

    def replicas_fit(self, job: Job, node: PlaceNode) -> int:
        """How many replicas of the job fit on the node alone, by free capacity."""
        return min(job.replicas, self.copies_fit(job, node))

    def copies_fit(self, job: Job, node: PlaceNode) -> int:
        """How many replicas of this shape fit on the node alone (any number of jobs)."""
        counts = [1_000_000]
        if job.cpu and node.cpu_free is not None:
            counts.append(node.cpu_free // job.cpu)
        if job.mem and node.mem_free is not None:
            counts.append(node.mem_free // job.mem)
        if job.gpus:
            counts.append(node.whole_free // job.gpus)
        elif job.milli:
            counts.append(sum(f // job.milli for f in node.gpu_free))
        return max(0, min(counts))


@dataclass(frozen=True)
class Unit:
    """Interchangeable jobs (same shape, priority and constraints) the solver counts as one.

    Each job is still a gang: all of its replicas are placed, or none.
    """

    jobs: tuple[int, ...]  # indices into PlacementProblem.jobs, in input order
    candidates: tuple[int, ...]  # node indices where a replica may go


def make_units(problem: PlacementProblem) -> list[Unit]:
    """Group interchangeable jobs (symmetry); find each group's candidate nodes."""
    by_signature: dict[tuple[object, ...], list[int]] = {}
    order: list[tuple[object, ...]] = []
    for i, job in enumerate(problem.jobs):
        key = job.signature
        if key not in by_signature:
            by_signature[key] = []
            order.append(key)
        by_signature[key].append(i)
    # Nodes in the same state answer alike: decide once per (job shape, node state).
    states: dict[tuple[object, ...], list[int]] = {}
    for n, node in enumerate(problem.nodes):
        state = (node.model, node.gpu_free, node.cpu_free, node.mem_free, bool(node.findings),
                 frozenset(node.domains))  # fmt: skip
        states.setdefault(state, []).append(n)
    groups = [(problem.nodes[ns[0]], ns) for ns in states.values()]
    units = []
    for key in order:
        members = by_signature[key]
        job = problem.jobs[members[0]]
        candidates = sorted(
            n
            for node, ns in groups
            if problem.node_ok(job, node) and problem.replicas_fit(job, node) >= 1
            for n in ns
        )
        units.append(Unit(tuple(members), tuple(candidates)))
    return units


def fragmentation_of(
    problem: PlacementProblem,
    counts: Mapping[tuple[int, int], int],
    shares: Mapping[tuple[int, int, int], int],
) -> int:
    """GPUs opened for sharing plus empty hosts broken into, counted from a plan.

    ``counts`` maps (unit, node) to replicas placed there, ``shares`` (unit, node, GPU) to
    share replicas on that GPU.
    """
    opened = {(n, g) for (_, n, g), k in shares.items()
              if k and problem.nodes[n].gpu_free[g] >= MILLI}  # fmt: skip
    broken = {
        n for (_, n), k in counts.items()
        if k and problem.nodes[n].gpu_free
        and all(f >= MILLI for f in problem.nodes[n].gpu_free)
    }  # fmt: skip
    return len(opened) + len(broken)


#: A job shape: (whole GPUs, milli-GPU share, milli-CPU, MiB, allowed GPU models or None).
GpuShape = tuple[int, int, int, int, frozenset[str] | None]


def minimal_gpu_shapes(problem: PlacementProblem) -> list[GpuShape]:
    """The job shapes that matter for "does any shape still fit": (GPUs, milli, CPU, mem, models).

    A shape that some other shape dominates (no more GPU, CPU or memory, and allowed on every
    model it is) fits only where that smaller one fits too, so it is dropped.
    """
    shapes: set[GpuShape] = {
        (j.gpus, j.milli, j.cpu, j.mem, j.models) for j in problem.jobs if j.replica_milli
    }

    def size(t: GpuShape) -> int:
        return t[0] * MILLI + t[1]

    def covers(a: GpuShape, b: GpuShape) -> bool:  # a fits wherever b fits
        models_ok = a[4] is None or (b[4] is not None and b[4] <= a[4])
        return size(a) <= size(b) and a[2] <= b[2] and a[3] <= b[3] and models_ok

    kept = [b for b in shapes if not any(a != b and covers(a, b) for a in shapes)]
    return sorted(kept, key=lambda t: (size(t), t[2], t[3], sorted(t[4] or ())))


def stranded_milli(
    problem: PlacementProblem,
    gpu: Sequence[Sequence[int]],
    cpu: Sequence[int | None],
    mem: Sequence[int | None],
) -> tuple[int, int]:
    """GPU milli stranded, and on how many hosts: free GPU capacity where no job shape fits.

    ``gpu``, ``cpu`` and ``mem`` are every node's free capacity after a plan (per GPU index).
    """
    shapes = minimal_gpu_shapes(problem)
    milli = hosts = 0
    for n, node in enumerate(problem.nodes):
        free = [max(0, f) for f in gpu[n]]
        total = sum(free)
        if total == 0:
            continue
        whole = sum(1 for f in free if f >= MILLI)
        cpu_n, mem_n = cpu[n], mem[n]
        fits = any(
            (models is None or node.model in models)
            and (cpu_n is None or cpu_n >= c)
            and (mem_n is None or mem_n >= m)
            and (whole >= gpus if gpus else any(f >= share for f in free))
            for gpus, share, c, m, models in shapes
        )
        if not fits:
            milli += total
            hosts += 1
    return milli, hosts


@dataclass(frozen=True)
class PlacementHint:
    """A known-good placement to start from: per unit, replicas per node and share GPUs."""

    placed: tuple[int, ...]  # per unit: jobs placed
    counts: dict[tuple[int, int], int]  # (unit, node) → replicas
    shares: dict[tuple[int, int, int], int]  # (unit, node, gpu) → replicas on that GPU
    whole_gpus: dict[int, tuple[int, ...]] = dataclasses.field(default_factory=dict)
