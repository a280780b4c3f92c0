"""Free resources of a GPU cluster as arrays, for fast online placement decisions.

Units are integers: milli-CPU, MiB and milli-GPU (1,000 = one whole GPU). A request (`Shape`)
follows the convention of Kubernetes GPU sharing and the openb trace: ``gpus = 0`` is CPU only;
``gpus = 1, milli < 1000`` shares one GPU with others; ``gpus = k, milli = 1000`` takes k whole
GPUs. Each node keeps the free milli of each of its GPUs; slots past a node's GPU count hold -1,
so no request ever fits them and sums clip them away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MILLI = 1000


@dataclass(frozen=True, slots=True)
class Shape:
    """What one pod or job replica asks for."""

    cpu_milli: int
    memory_mib: int
    gpus: int  # 0: CPU only; 1 with milli < 1000: a share of one GPU; k: k whole GPUs
    milli: int  # per GPU
    models: frozenset[str] | None = None  # allowed GPU models; None = any

    @property
    def gpu_milli(self) -> int:
        """Total GPU demand in milli-GPU."""
        return self.gpus * self.milli

    @property
    def is_share(self) -> bool:
        """True when the request takes part of one GPU."""
        return self.gpus == 1 and self.milli < MILLI


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node's capacity."""

    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    model: str


class GpuClusterState:
    """Free CPU, memory and per-GPU milli of every node, updated in place as pods are placed."""

    def __init__(self, nodes: Sequence[NodeSpec]) -> None:
        """Start with every node empty."""
        self.names = [n.name for n in nodes]
        self.models = sorted({n.model for n in nodes})
        model_index = {m: i for i, m in enumerate(self.models)}
        self.model = np.array([model_index[n.model] for n in nodes], dtype=np.int64)
        self.gpu_count = np.array([n.gpus for n in nodes], dtype=np.int64)
        self.cpu_total = np.array([n.cpu_milli for n in nodes], dtype=np.int64)
        self.mem_total = np.array([n.memory_mib for n in nodes], dtype=np.int64)
        self.width = max(1, int(self.gpu_count.max(initial=1)))
        slots = np.arange(self.width)[None, :]
        self.gpu_total = np.where(slots < self.gpu_count[:, None], MILLI, -1).astype(np.int64)
        self.cpu = self.cpu_total.copy()
        self.mem = self.mem_total.copy()
        self.gpu = self.gpu_total.copy()
        # Bumped on every change of a node, so cached per-node scores know they are stale.
        self.version = np.zeros(len(nodes), dtype=np.int64)
        self._access: dict[frozenset[str] | None, np.ndarray] = {}

    def __len__(self) -> int:
        """Number of nodes."""
        return len(self.names)

    @property
    def gpu_capacity_milli(self) -> int:
        """All GPUs of the cluster in milli-GPU."""
        return int(self.gpu_count.sum()) * MILLI

    @property
    def gpu_allocated_milli(self) -> int:
        """GPU milli currently allocated."""
        return self.gpu_capacity_milli - int(np.clip(self.gpu, 0, None).sum())

    def model_access(self, models: frozenset[str] | None) -> np.ndarray:
        """Boolean per model index: may a request restricted to ``models`` use it."""
        cached = self._access.get(models)
        if cached is None:
            if models is None:
                cached = np.ones(len(self.models), dtype=bool)
            else:
                cached = np.array([m in models for m in self.models], dtype=bool)
            self._access[models] = cached
        return cached

    def fits(self, shape: Shape, rows: np.ndarray | None = None) -> np.ndarray:
        """Boolean per node (or per row in ``rows``): does the request fit there now."""
        cpu, mem, gpu, model = self.cpu, self.mem, self.gpu, self.model
        if rows is not None:
            cpu, mem, gpu, model = cpu[rows], mem[rows], gpu[rows], model[rows]
        ok = (cpu >= shape.cpu_milli) & (mem >= shape.memory_mib)
        if shape.gpus == 0:
            return ok
        ok &= self.model_access(shape.models)[model]
        fits: np.ndarray
        if shape.is_share:
            fits = ok & (gpu >= shape.milli).any(axis=1)
        else:
            fits = ok & ((gpu >= MILLI).sum(axis=1) >= shape.gpus)
        return fits

    def whole_gpus(self, node: int, count: int) -> tuple[int, ...]:
        """The first ``count`` entirely free GPUs of a node."""
        free = np.flatnonzero(self.gpu[node] >= MILLI)
        return tuple(int(i) for i in free[:count])

    def place(self, node: int, shape: Shape, gpu_ids: Iterable[int]) -> None:
        """Take a request's resources on one node (the caller chose a node where it fits)."""
        self.cpu[node] -= shape.cpu_milli
        self.mem[node] -= shape.memory_mib
        for gpu_id in gpu_ids:
            self.gpu[node, gpu_id] -= shape.milli
        self.version[node] += 1
        overdrawn = (self.gpu[node] < 0) & (self.gpu_total[node] >= 0)
        if self.cpu[node] < 0 or self.mem[node] < 0 or overdrawn.any():
            raise ValueError(f"{self.names[node]}: request does not fit")
