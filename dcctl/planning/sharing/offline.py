"""Offline placement: every request known at once, any of them may be left out.

Two steps. CP-SAT chooses *which* requests to place: the node-class model of ``plan place``
(`cpsat.solve_class_placement`) maximises the GPU milli placed over classes of identical nodes,
a relaxation whose bound is a true ceiling. Then the online fragmentation placer packs the
chosen requests onto real nodes — GPU shares first, largest share first (small remnants are
then left to the small shares), then the rest of the chosen ones in their order — and last
offers the requests CP-SAT left out, in their order, to whatever room is left. The relaxation
packs shares as if GPU milli were fluid, so its choice can be a poor one (many GPU-sharing
requests); the requests offered in their own order are packed too, and the better plan wins.

Measured on openb `default` (seed 42): CP-SAT's chosen set alone is 99.9 % of the GPUs (the
"clairvoyant" figure); packed this way 96.9 %; the same packing without CP-SAT's choice 93.8 %;
the class counts spread over nodes best fit 92.3 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dcctl.planning.cpsat.placement import solve_class_placement
from dcctl.planning.gpu_state import MILLI, GpuClusterState, NodeSpec, Shape
from dcctl.planning.placement.classes import class_hint, node_classes
from dcctl.planning.placement.problem import Job, PlacementProblem, PlaceNode, make_units
from dcctl.planning.sharing.fragmentation import Fragmentation
from dcctl.planning.sharing.online import FragmentationPlacer, Placement
from dcctl.planning.solver_options import SolverOptions


@dataclass(frozen=True)
class OfflinePlan:
    """Where each request went (None: left out), and what CP-SAT proved."""

    placements: tuple[Placement | None, ...]
    chosen: frozenset[int]  # requests CP-SAT chose to place
    chosen_milli: int  # their GPU demand (the class model's objective)
    bound_milli: int  # the class model's bound: no plan places more GPU milli
    status: str
    solve_s: float
    packing: str = "chosen"  # which packing won: "chosen" (CP-SAT's choice) or "arrival"
    allocated_milli: Mapping[str, int] = field(default_factory=dict)  # per packing tried


def placement_problem(nodes: Sequence[NodeSpec], requests: Sequence[Shape]) -> PlacementProblem:
    """The requests as single-replica jobs on empty nodes (priority 1: GPU milli counts)."""
    place_nodes = tuple(
        PlaceNode(n.name, n.model, (MILLI,) * n.gpus, n.cpu_milli, n.memory_mib) for n in nodes
    )
    jobs = tuple(
        Job(
            name=f"r{i}",
            replicas=1,
            gpus=0 if r.is_share else r.gpus,
            milli=r.milli if r.is_share else 0,
            cpu=r.cpu_milli,
            mem=r.memory_mib,
            models=r.models,
        )
        for i, r in enumerate(requests)
    )
    return PlacementProblem(place_nodes, jobs)


def pack_order(requests: Sequence[Shape], chosen: frozenset[int]) -> list[int]:
    """Chosen shares (largest first), the other chosen requests, then those left out."""
    picked = sorted(
        chosen,
        key=lambda i: (
            not requests[i].is_share,
            -requests[i].milli if requests[i].is_share else 0,
            i,
        ),
    )
    return picked + [i for i in range(len(requests)) if i not in chosen]


def plan_offline(
    nodes: Sequence[NodeSpec],
    requests: Sequence[Shape],
    measure_for: Sequence[tuple[Shape, float]],
    options: SolverOptions,
) -> OfflinePlan:
    """Choose with CP-SAT on node classes, pack with the fragmentation placer (module doc).

    ``measure_for`` is the typical workload for the fragmentation measure (shape, weight).
    """
    problem = placement_problem(nodes, requests)
    units = make_units(problem)
    classes = node_classes(problem, units)
    hint = class_hint(problem, units, classes)
    solved = solve_class_placement(
        problem, units, classes.members, classes.unit_classes, options, hint
    )
    chosen = frozenset(j for u, unit in enumerate(units) for j in unit.jobs[: solved.placed[u]])
    tried = {
        "chosen": _pack(nodes, requests, measure_for, pack_order(requests, chosen)),
        "arrival": _pack(nodes, requests, measure_for, range(len(requests))),
    }
    allocated = {
        name: sum(r.gpu_milli for r, p in zip(requests, placements, strict=True) if p)
        for name, placements in tried.items()
    }
    best = max(tried, key=lambda name: (allocated[name], name == "chosen"))
    capacity = sum(n.gpus for n in nodes) * MILLI
    bound = round(solved.bound * MILLI) if solved.bound >= 0 else sum(r.gpu_milli for r in requests)
    return OfflinePlan(
        placements=tuple(tried[best]),
        chosen=chosen,
        chosen_milli=sum(requests[i].gpu_milli for i in chosen),
        bound_milli=min(bound, capacity),
        status=solved.status,
        solve_s=solved.wall_s,
        packing=best,
        allocated_milli=allocated,
    )


def _pack(
    nodes: Sequence[NodeSpec],
    requests: Sequence[Shape],
    measure_for: Sequence[tuple[Shape, float]],
    order: Iterable[int],
) -> list[Placement | None]:
    """Offer the requests to a fresh fragmentation placer in the given order."""
    state = GpuClusterState(nodes)
    placer = FragmentationPlacer(state, Fragmentation.build(state, measure_for, with_memory=True))
    placements: list[Placement | None] = [None] * len(requests)
    for i in order:
        placements[i] = placer.place(requests[i])
    return placements
