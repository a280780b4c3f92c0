"""Expected GPU fragmentation of a node for a target workload (the measure behind FGD).

Weng et al., "Beware of Fragmentation" (USENIX ATC'23): for each typical request shape t with
popularity p_t, the free GPU milli of a node that t could not use counts as fragment: all of it
when t does not fit the node at all (CPU, memory, model or GPUs), else the free milli of the GPUs
too small for t. A node's fragmentation is Σ_t p_t · fragment_t. Placing a request where it
raises fragmentation least keeps free GPUs in the shapes that future requests need.

`FragmentationScorer` keeps each node's current value and, per request shape, each node's value
after a hypothetical placement; both are cached against the node's version, so one placement
costs a recomputation for the one node that changed, not for the cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dcctl.planning.gpu_state import MILLI, GpuClusterState, Shape


def typical_shapes(shapes: Iterable[Shape], coverage: float = 0.95) -> list[tuple[Shape, float]]:
    """The most frequent GPU request shapes covering ``coverage`` of GPU requests, normalised."""
    counts = Counter(s for s in shapes if s.gpus > 0)
    total = sum(counts.values())
    if total == 0:
        return []
    chosen: list[tuple[Shape, int]] = []
    covered = 0
    for shape, count in sorted(counts.items(), key=lambda kv: (-kv[1], _shape_key(kv[0]))):
        if covered >= coverage * total:
            break
        chosen.append((shape, count))
        covered += count
    return [(shape, count / covered) for shape, count in chosen]


def _shape_key(shape: Shape) -> tuple[int, int, int, int, tuple[str, ...]]:
    models = tuple(sorted(shape.models)) if shape.models is not None else ()
    return (shape.gpus, shape.milli, shape.cpu_milli, shape.memory_mib, models)


@dataclass(frozen=True)
class Fragmentation:
    """Vectorised fragmentation measure for one cluster's model list and one workload."""

    milli_values: np.ndarray  # distinct per-GPU milli of the typical shapes
    shape_milli_index: np.ndarray  # [T] index into milli_values
    shape_gpus: np.ndarray  # [T]
    shape_cpu: np.ndarray  # [T]
    shape_mem: np.ndarray  # [T]
    shape_access: np.ndarray  # [T, models] may shape t use model m
    weight: np.ndarray  # [T] popularity, sums to 1
    with_memory: bool

    @classmethod
    def build(
        cls,
        state: GpuClusterState,
        typical: Sequence[tuple[Shape, float]],
        with_memory: bool = False,
    ) -> Fragmentation:
        """Prepare the measure for a cluster (its GPU models) and a typical workload."""
        millis = sorted({s.milli for s, _ in typical}) or [MILLI]
        index = {m: i for i, m in enumerate(millis)}
        return cls(
            milli_values=np.array(millis, dtype=np.int64),
            shape_milli_index=np.array([index[s.milli] for s, _ in typical], dtype=np.int64),
            shape_gpus=np.array([s.gpus for s, _ in typical], dtype=np.int64),
            shape_cpu=np.array([s.cpu_milli for s, _ in typical], dtype=np.int64),
            shape_mem=np.array([s.memory_mib for s, _ in typical], dtype=np.int64),
            shape_access=np.array(
                [state.model_access(s.models) for s, _ in typical], dtype=bool
            ).reshape(len(typical), len(state.models)),
            weight=np.array([w for _, w in typical], dtype=np.float64),
            with_memory=with_memory,
        )

    def of(
        self, cpu: np.ndarray, mem: np.ndarray, model: np.ndarray, gpu: np.ndarray
    ) -> np.ndarray:
        """Fragmentation (milli-GPU) of each node state given as rows of arrays."""
        free = np.clip(gpu, 0, None)
        total = free.sum(axis=1)
        if len(self.weight) == 0:
            zeros: np.ndarray = total.astype(np.float64) * 0.0
            return zeros
        fits_count = np.empty((len(gpu), len(self.milli_values)), dtype=np.int64)
        too_small = np.empty_like(fits_count)
        for j, milli in enumerate(self.milli_values):
            big_enough = gpu >= milli
            fits_count[:, j] = big_enough.sum(axis=1)
            too_small[:, j] = np.where(big_enough, 0, free).sum(axis=1)
        idx = self.shape_milli_index
        usable = self.shape_access[:, model].T  # [S, T]
        usable &= cpu[:, None] >= self.shape_cpu[None, :]
        usable &= fits_count[:, idx] >= self.shape_gpus[None, :]
        if self.with_memory:
            usable &= mem[:, None] >= self.shape_mem[None, :]
        fragment = np.where(usable, too_small[:, idx], total[:, None])
        expected: np.ndarray = fragment @ self.weight
        return expected


class FragmentationScorer:
    """How much placing a request on each node would raise that node's fragmentation."""

    def __init__(self, state: GpuClusterState, measure: Fragmentation) -> None:
        """Compute every node's current fragmentation once."""
        self.state = state
        self.measure = measure
        self.now = measure.of(state.cpu, state.mem, state.model, state.gpu)
        self.now_version = state.version.copy()
        # shape -> (fragmentation after placing it, chosen GPU for a share, version computed at)
        self._after: dict[Shape, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _refresh_now(self) -> None:
        stale = np.flatnonzero(self.now_version != self.state.version)
        if len(stale):
            s = self.state
            self.now[stale] = self.measure.of(
                s.cpu[stale], s.mem[stale], s.model[stale], s.gpu[stale]
            )
            self.now_version[stale] = s.version[stale]

    def delta(self, shape: Shape, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rise in fragmentation per row (nodes where the shape fits) and the GPU a share takes."""
        self._refresh_now()
        entry = self._after.get(shape)
        if entry is None:
            n = len(self.state)
            entry = (np.zeros(n), np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64))
            self._after[shape] = entry
        after, choice, version = entry
        stale = rows[version[rows] != self.state.version[rows]]
        if len(stale):
            values, gpus = self._after_placing(shape, stale)
            after[stale] = values
            choice[stale] = gpus
            version[stale] = self.state.version[stale]
        return after[rows] - self.now[rows], choice[rows]

    def _after_placing(self, shape: Shape, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.state
        cpu = s.cpu[rows] - shape.cpu_milli
        mem = s.mem[rows] - shape.memory_mib
        model = s.model[rows]
        gpu = s.gpu[rows]
        if shape.gpus == 0:
            return self.measure.of(cpu, mem, model, gpu), np.full(len(rows), -1)
        if not shape.is_share:
            free = gpu >= MILLI
            take = free & (np.cumsum(free, axis=1) <= shape.gpus)
            return self.measure.of(cpu, mem, model, gpu - take * MILLI), np.full(len(rows), -1)
        width = s.width
        options = np.repeat(gpu[:, None, :], width, axis=1)  # [R, W(option), W]
        diagonal = np.arange(width)
        options[:, diagonal, diagonal] -= shape.milli
        valid = gpu >= shape.milli  # [R, W]
        frag = self.measure.of(
            np.repeat(cpu, width),
            np.repeat(mem, width),
            np.repeat(model, width),
            options.reshape(-1, width),
        ).reshape(len(rows), width)
        # Among equally good GPUs prefer the fullest one (best fit), deterministically.
        frag = np.where(valid, frag + np.where(valid, gpu, 0) * 1e-7, np.inf)
        best = frag.argmin(axis=1)
        values = frag[np.arange(len(rows)), best] - gpu[np.arange(len(rows)), best] * 1e-7
        return values, best
