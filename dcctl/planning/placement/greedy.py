"""Greedy placement: highest priority and largest jobs first, each gang best fit or not at all.

`FreeCapacity` is the mutable free state (GPUs per index, CPU, memory, rack power) the greedy
pass, the node-class disaggregation and the repair of what it could not place all work on.
"""

from __future__ import annotations

from collections.abc import Mapping

from dcctl.planning.gpu_state import MILLI
from dcctl.planning.placement.problem import RACK, Job, PlacementHint, PlacementProblem, Unit


class FreeCapacity:
    """Mutable free capacity: GPU milli per index, CPU, memory per node; power per rack."""

    def __init__(self, problem: PlacementProblem) -> None:
        """Everything the problem says is free."""
        self.problem = problem
        self.gpu = [list(n.gpu_free) for n in problem.nodes]
        self.cpu = [n.cpu_free for n in problem.nodes]
        self.mem = [n.mem_free for n in problem.nodes]
        self.rack_left = {r.rack: r.left_w for r in problem.racks}
        # Kept up to date by take/give: whole free GPUs and free milli per node.
        self.whole = [sum(1 for f in n.gpu_free if f >= MILLI) for n in problem.nodes]
        self.total = [sum(max(0, f) for f in n.gpu_free) for n in problem.nodes]
        self._undo: list[tuple[Job, int, tuple[int, ...]]] = []

    def snapshot(self) -> int:
        """A mark to :meth:`restore` to (the length of the undo log)."""
        return len(self._undo)

    def restore(self, mark: int) -> None:
        """Give back everything taken since the mark."""
        while len(self._undo) > mark:
            job, n, gpus = self._undo.pop()
            self._give(job, n, gpus)

    def _give(self, job: Job, n: int, gpus: tuple[int, ...]) -> None:
        cpu, mem = self.cpu[n], self.mem[n]
        if cpu is not None:
            self.cpu[n] = cpu + job.cpu
        if mem is not None:
            self.mem[n] = mem + job.mem
        rack = self.problem.nodes[n].domains.get(RACK)
        if rack in self.rack_left:
            self.rack_left[rack] += self.power(job, n)
        for g in gpus:
            self.gpu[n][g] += MILLI if job.gpus else job.milli
            self.whole[n] += self.gpu[n][g] >= MILLI
        self.total[n] += job.gpus * MILLI + (job.milli if gpus else 0)

    def power(self, job: Job, n: int) -> float:
        """Watts one replica draws on node n (its GPUs at the profile TDP)."""
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
            return -1 if self.whole[n] >= job.gpus else None
        if job.milli:
            if self.total[n] < job.milli:
                return None
            best, best_free, need = None, MILLI + 1, job.milli
            for g, f in enumerate(gpus):  # the fullest GPU that fits (lowest index on ties)
                if need <= f < best_free:
                    best, best_free = g, f
            return best
        return -1

    def tightness(self, job: Job, n: int) -> tuple[int, int, int]:
        """Best-fit key: GPU then CPU left on node n after one replica (less is tighter)."""
        free_gpu = self.total[n] - job.replica_milli
        cpu = self.cpu[n]
        return (free_gpu, (cpu - job.cpu) if cpu is not None else 0, n)

    def take(self, job: Job, n: int, share_gpu: int) -> tuple[int, ...]:
        """Take one replica's resources on node n; the GPU indices it got."""
        cpu, mem = self.cpu[n], self.mem[n]
        if cpu is not None:
            self.cpu[n] = cpu - job.cpu
        if mem is not None:
            self.mem[n] = mem - job.mem
        rack = self.problem.nodes[n].domains.get(RACK)
        if rack in self.rack_left:
            self.rack_left[rack] -= self.power(job, n)
        gpus = self.gpu[n]
        taken: tuple[int, ...] = ()
        if job.gpus:
            taken = tuple(g for g, f in enumerate(gpus) if f >= MILLI)[: job.gpus]
            for g in taken:
                gpus[g] = 0
            self.whole[n] -= job.gpus
            self.total[n] -= job.gpus * MILLI
        elif job.milli:
            self.whole[n] -= gpus[share_gpu] >= MILLI
            gpus[share_gpu] -= job.milli
            self.total[n] -= job.milli
            taken = (share_gpu,)
        self._undo.append((job, n, taken))
        return taken


def place_gang(
    free: FreeCapacity,
    job: Job,
    candidates: tuple[int, ...],
    quota: tuple[Mapping[int, int], dict[int, int]] | None = None,
) -> list[tuple[int, tuple[int, ...]]] | None:
    """Best-fit placement of every replica of one job, or None (nothing taken).

    Returns (node, GPU indices) per replica: the whole GPUs taken, the one GPU a share is on,
    or none for a CPU-only job. ``quota`` is (node → group, group → replicas still allowed):
    a node whose group has none left is skipped, and each replica placed uses one.
    """
    groups: list[tuple[int, ...]] = [candidates]
    if job.same is not None:
        by_domain: dict[str, list[int]] = {}
        for n in candidates:
            by_domain.setdefault(free.problem.nodes[n].domains[job.same], []).append(n)
        groups = [tuple(v) for _, v in sorted(by_domain.items())]
    group_of, left = quota if quota is not None else ({}, {})
    for group in groups:
        snap = free.snapshot()
        left_before = dict(left)
        out: list[tuple[int, tuple[int, ...]]] = []
        used_domains: set[str] = set()
        for _ in range(job.replicas):
            options = []
            for n in group:
                if job.spread is not None and (
                    free.problem.nodes[n].domains[job.spread] in used_domains
                ):
                    continue
                if quota is not None and left[group_of[n]] <= 0:
                    continue
                share = free.fits(job, n)
                if share is not None:
                    options.append((free.tightness(job, n), n, share))
            if not options:
                break
            _, n, share = min(options)
            out.append((n, free.take(job, n, share)))
            if quota is not None:
                left[group_of[n]] -= 1
            if job.spread is not None:
                used_domains.add(free.problem.nodes[n].domains[job.spread])
        if len(out) == job.replicas:
            return out
        free.restore(snap)
        left.update(left_before)
    return None


def greedy_hint(problem: PlacementProblem, units: list[Unit]) -> PlacementHint:
    """Highest priority and largest jobs first, each gang best fit or not at all."""
    free = FreeCapacity(problem)
    order = sorted(
        ((u, j) for u, unit in enumerate(units) for j in unit.jobs),
        key=lambda uj: (-problem.jobs[uj[1]].priority, -problem.jobs[uj[1]].demand_milli, uj[1]),
    )
    placed = [0] * len(units)
    counts: dict[tuple[int, int], int] = {}
    shares: dict[tuple[int, int, int], int] = {}
    whole: dict[int, list[int]] = {}
    for u, j in order:
        job = problem.jobs[j]
        result = place_gang(free, job, units[u].candidates)
        if result is None:
            continue
        placed[u] += 1
        for n, gpus in result:
            counts[u, n] = counts.get((u, n), 0) + 1
            if job.is_share:
                shares[u, n, gpus[0]] = shares.get((u, n, gpus[0]), 0) + 1
            else:
                whole.setdefault(n, []).extend(gpus)
    return PlacementHint(tuple(placed), counts, shares, {n: tuple(g) for n, g in whole.items()})
