"""Benchmark: online GPU placement on the public openb trace (Alibaba, FGD paper, ATC'23).

Protocol (../shared/data/openb/README.md): the trace's pods are shuffled with the seed, then pods
resampled from the trace are appended until the GPU request reaches 130 % of the cluster's GPU
capacity (traces already above it are cut there). Pods arrive one at a time and nothing departs;
a pod fits a node only if CPU, memory, GPU model and GPUs fit. The figure is the GPU allocation
ratio: allocated GPU milli over all GPUs × 1000, after arrivals reach 100 % and 130 % of capacity.

Policies: ``dcctl`` (dcctl.planning.sharing.online: fragmentation plus a best-fit term, look-ahead
batches), and the baselines re-implemented from the simulator's plugins: ``bestfit``
(kube-scheduler integer score Σ ½·free/maxSpec over CPU and GPU, ties at random, best-fit GPU),
``random`` (a uniformly random feasible node) and ``fgd`` (integer sigmoid of the fragmentation
drop, ties at random). ``--mode offline`` gives dcctl all pods at once
(dcctl.planning.sharing.offline:
CP-SAT on node classes chooses which pods to place, the fragmentation placer packs them, then
offers the rest); it is reported apart, with the class model's bound (a true ceiling), and is
not an online result. ``--time-limit`` is CP-SAT's there.

Run by hand, e.g. ``.venv/bin/python benchmarks/openb.py --trace default --seeds 42-51``.
The last line printed is one JSON object with the means.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcctl.planning.gpu_state import GpuClusterState, NodeSpec, Shape
from dcctl.planning.sharing.fragmentation import Fragmentation, FragmentationScorer, typical_shapes
from dcctl.planning.sharing.offline import plan_offline
from dcctl.planning.sharing.online import (
    FragmentationPlacer,
    Placement,
    best_fit_residual,
    gpu_ids_for,
)
from dcctl.planning.solver_options import SolverOptions

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "openb"
TUNE = 1.3


# ---------------------------------------------------------------------------------------- trace


def read_nodes(data: Path) -> list[NodeSpec]:
    """The trace's GPU nodes."""
    with (data / "openb_node_list_gpu_node.csv").open() as f:
        return [
            NodeSpec(r["sn"], int(r["cpu_milli"]), int(r["memory_mib"]), int(r["gpu"]), r["model"])
            for r in csv.DictReader(f)
        ]


def read_pods(data: Path, trace: str) -> list[Shape]:
    """The trace's pods as request shapes (``gpu_spec`` empty or absent: any model)."""
    interned: dict[Shape, Shape] = {}
    pods = []
    with (data / f"openb_pod_list_{trace}.csv").open() as f:
        for r in csv.DictReader(f):
            spec = (r.get("gpu_spec") or "").strip()
            gpus = int(r["num_gpu"])
            shape = Shape(
                cpu_milli=int(r["cpu_milli"]),
                memory_mib=int(r["memory_mib"]),
                gpus=gpus,
                milli=int(r["gpu_milli"]) if gpus else 0,
                models=frozenset(spec.split("|")) if spec else None,
            )
            pods.append(interned.setdefault(shape, shape))
    return pods


def arrivals(pods: Sequence[Shape], capacity_milli: int, seed: int) -> list[Shape]:
    """Shuffle with the seed; resample until the GPU request reaches 130 % (or cut there)."""
    rng = random.Random(seed)
    order = list(pods)
    rng.shuffle(order)
    target = TUNE * capacity_milli
    total = 0
    out = []
    for pod in order:
        if total >= target:
            return out
        out.append(pod)
        total += pod.gpu_milli
    while total < target:
        pod = pods[rng.randrange(len(pods))]
        out.append(pod)
        total += pod.gpu_milli
    return out


# ------------------------------------------------------------------------------------ policies


class Policy:
    """Places a batch of arrivals; returns a placement (or None) per pod, in arrival order."""

    batch_seconds: list[float]

    def place_batch(self, shapes: Sequence[Shape]) -> list[Placement | None]:
        raise NotImplementedError


@dataclass
class ScoredBaseline(Policy):
    """A kube-scheduler-style policy: integer node scores, ties broken uniformly at random."""

    state: GpuClusterState
    rng: np.random.Generator
    batch_seconds: list[float] = field(default_factory=list)

    def scores(self, shape: Shape, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def share_gpu(self, node: int, shape: Shape) -> int:
        gpu = self.state.gpu[node]
        candidates = np.flatnonzero(gpu >= shape.milli)
        return int(candidates[np.argmin(gpu[candidates])])  # best fit, first on ties

    def place_batch(self, shapes: Sequence[Shape]) -> list[Placement | None]:
        started = time.perf_counter()
        out: list[Placement | None] = []
        for shape in shapes:
            rows = np.flatnonzero(self.state.fits(shape))
            if len(rows) == 0:
                out.append(None)
                continue
            score, gpu_choice = self.scores(shape, rows)
            top = np.flatnonzero(score == score.max())
            pick = int(top[self.rng.integers(len(top))])
            node = int(rows[pick])
            share = int(gpu_choice[pick]) if gpu_choice is not None else -1
            if shape.is_share and share < 0:
                share = self.share_gpu(node, shape)
            placement = Placement(node, gpu_ids_for(self.state, node, shape, share))
            self.state.place(node, shape, placement.gpus)
            out.append(placement)
        self.batch_seconds.append(time.perf_counter() - started)
        return out


class RandomPolicy(ScoredBaseline):
    """A uniformly random feasible node; a random fitting GPU for a share."""

    def scores(self, shape: Shape, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return np.zeros(len(rows)), None

    def share_gpu(self, node: int, shape: Shape) -> int:
        candidates = np.flatnonzero(self.state.gpu[node] >= shape.milli)
        return int(candidates[self.rng.integers(len(candidates))])


class BestFitPolicy(ScoredBaseline):
    """The simulator's best-fit plugin: int((1 − Σ ½·(free − request)/maxSpec) × 100)."""

    def scores(self, shape: Shape, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return np.floor((1.0 - best_fit_residual(self.state, shape, rows)) * 100), None


class FgdPolicy(ScoredBaseline):
    """The simulator's FGD plugin: int(sigmoid(fragmentation drop / 1000) × 100)."""

    def __init__(self, state: GpuClusterState, rng: np.random.Generator, measure: Fragmentation):
        super().__init__(state, rng)
        self.scorer = FragmentationScorer(state, measure)

    def scores(self, shape: Shape, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        delta, gpu_choice = self.scorer.delta(shape, rows)
        return np.floor(100.0 / (1.0 + np.exp(delta / 1000.0))), gpu_choice


# ------------------------------------------------------------------------------------- harness


@dataclass
class SeedResult:
    """One seed's figures."""

    seed: int
    alloc_100: float
    alloc_130: float
    placed: int
    failed: int
    batch_p50_s: float
    batch_p99_s: float
    wall_s: float
    bound_130: float | None = None  # offline: no plan allocates more (the class model's bound)
    note: str = ""


def make_policy(
    name: str, state: GpuClusterState, seed: int, typical: list, lookahead: int
) -> Policy:
    """A fresh policy over a fresh cluster state."""
    rng = np.random.default_rng(seed)
    if name == "random":
        return RandomPolicy(state, rng)
    if name == "bestfit":
        return BestFitPolicy(state, rng)
    if name == "fgd":
        return FgdPolicy(state, rng, Fragmentation.build(state, typical))
    if name == "dcctl":
        measure = Fragmentation.build(state, typical, with_memory=True)
        return FragmentationPlacer(state, measure, lookahead)
    raise SystemExit(f"unknown policy {name!r}")


def run_seed(
    nodes: list[NodeSpec],
    pods: list[Shape],
    seed: int,
    policy_name: str,
    mode: str,
    lookahead: int,
    time_limit: float = 10.0,
) -> SeedResult:
    """Run one seed; allocation at 100 % counts only pods that had arrived by then."""
    started = time.perf_counter()
    state = GpuClusterState(nodes)
    capacity = state.gpu_capacity_milli
    stream = arrivals(pods, capacity, seed)
    typical = typical_shapes(pods)
    policy = make_policy(policy_name, state, seed, typical, lookahead)
    cumulative = np.cumsum([p.gpu_milli for p in stream])
    reach_100 = int(np.searchsorted(cumulative, capacity))  # index of the pod that reaches 100 %
    placements: list[Placement | None] = []
    bound, note = None, ""
    if mode == "offline":
        plan = plan_offline(nodes, stream, typical, SolverOptions(time_limit_s=time_limit))
        placements = list(plan.placements)
        bound = 100.0 * plan.bound_milli / capacity
        policy.batch_seconds = [plan.solve_s]
        packing = ", ".join(
            f"{name} {100.0 * milli / capacity:.2f}" for name, milli in plan.allocated_milli.items()
        )
        note = f"packings: {packing} (kept: {plan.packing})"
    else:
        step = lookahead if policy_name == "dcctl" else 1
        for start in range(0, len(stream), step):
            placements.extend(policy.place_batch(stream[start : start + step]))
    allocated = np.array(
        [p.gpu_milli if pl is not None else 0 for p, pl in zip(stream, placements, strict=True)]
    )
    times = sorted(policy.batch_seconds) or [0.0]
    return SeedResult(
        seed=seed,
        alloc_100=100.0 * allocated[: reach_100 + 1].sum() / capacity,
        alloc_130=100.0 * allocated.sum() / capacity,
        placed=sum(pl is not None for pl in placements),
        failed=sum(pl is None for pl in placements),
        batch_p50_s=times[len(times) // 2],
        batch_p99_s=times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)],
        wall_s=time.perf_counter() - started,
        bound_130=bound,
        note=note,
    )


def published(data: Path, trace: str) -> dict[str, tuple[float, float]]:
    """Mean and sd at 130 % per published policy for one trace."""
    values: dict[str, list[float]] = {}
    with (data / "published" / "analysis_allo_discrete.csv").open() as f:
        for r in csv.DictReader(f):
            if r["workload"] == f"openb_pod_list_{trace}" and r["tune"] == "1.3":
                values.setdefault(r["sc_policy"].split("-", 1)[1], []).append(float(r["130"]))
    return {
        k: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
        for k, v in values.items()
    }


def parse_seeds(text: str) -> list[int]:
    """``42-51`` or ``42,45``."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def main(argv: Sequence[str] | None = None, emit: Callable[[str], None] = print) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", default="default")
    parser.add_argument("--seeds", default="42-51")
    parser.add_argument("--mode", choices=["online", "offline"], default="online")
    parser.add_argument("--lookahead", type=int, default=16)
    parser.add_argument("--policy", default="dcctl", choices=["dcctl", "bestfit", "random", "fgd"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--time-limit", type=float, default=10.0, help="offline: CP-SAT's limit")
    args = parser.parse_args(argv)
    if not (args.data / "openb_node_list_gpu_node.csv").exists():
        raise SystemExit(f"{args.data}: openb data not found (--data DIR)")
    nodes = read_nodes(args.data)
    pods = read_pods(args.data, args.trace)
    seeds = parse_seeds(args.seeds)
    ref = published(args.data, args.trace)
    started = time.perf_counter()
    emit(
        f"openb {args.trace}: {len(nodes)} nodes, {sum(n.gpus for n in nodes)} GPUs, "
        f"{len(pods)} pods; "
        f"policy {args.policy}, mode {args.mode}, look-ahead {args.lookahead}; "
        f"{platform.node()} {platform.python_version()}"
    )
    results = []
    for seed in seeds:
        r = run_seed(nodes, pods, seed, args.policy, args.mode, args.lookahead, args.time_limit)
        results.append(r)
        bound = "" if r.bound_130 is None else f"  bound {r.bound_130:6.2f}"
        emit(
            f"  seed {seed}: alloc@100% {r.alloc_100:6.2f}  alloc@130% {r.alloc_130:6.2f}{bound}  "
            f"placed {r.placed} failed {r.failed}  batch p50 {r.batch_p50_s * 1000:.1f} ms "
            f"p99 {r.batch_p99_s * 1000:.1f} ms  {r.wall_s:.1f} s"
            + (f"  {r.note}" if r.note else "")
        )
    a130 = [r.alloc_130 for r in results]
    mean = statistics.mean(a130)
    sd = statistics.stdev(a130) if len(a130) > 1 else 0.0
    for name in ("FGD", "BestFit", "Random"):
        if name in ref:
            emit(f"  published {name:8s} {ref[name][0]:6.2f} ± {ref[name][1]:.2f}")
    emit(
        f"  {args.policy:18s} {mean:6.2f} ± {sd:.2f}  "
        f"(mean@100% {statistics.mean(r.alloc_100 for r in results):.2f})"
    )
    summary = {
        "trace": args.trace,
        "mode": args.mode,
        "lookahead": args.lookahead,
        "policy": args.policy,
        "seeds": len(seeds),
        "alloc_100_mean": round(statistics.mean(r.alloc_100 for r in results), 3),
        "alloc_130_mean": round(mean, 3),
        "alloc_130_sd": round(sd, 3),
        "fgd_130_mean": round(ref["FGD"][0], 3) if "FGD" in ref else None,
        "bestfit_130_mean": round(ref["BestFit"][0], 3) if "BestFit" in ref else None,
        "random_130_mean": round(ref["Random"][0], 3) if "Random" in ref else None,
        "batch_p99_s": round(max(r.batch_p99_s for r in results), 4),
        "bound_130_mean": (
            round(statistics.mean(r.bound_130 for r in results), 3)
            if args.mode == "offline" and all(r.bound_130 is not None for r in results)
            else None
        ),
        "seed_max_s": round(max(r.wall_s for r in results), 2),
        "wall_s": round(time.perf_counter() - started, 2),
    }
    emit(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
