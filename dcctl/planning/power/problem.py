"""The power-capping problem as plain data, built from the inventory's power tree.

GPUs that are interchangeable — same limits, workload class, priority and power path (the same
shares of the same feed, PDU and rack budgets) — form one group, so 10,000 GPUs in 500 racks
are a few thousand groups. The solver decides how many GPUs of each group run at each cap level.

Power flows host → PDUs → feeds. A host's draw (baseline + its GPUs' caps, a safe upper bound on
what they may draw) splits evenly over its PDUs whose feed is alive; a derated feed offers
``factor × available``; a feed derated to 0 carries nothing, so its PDUs' hosts move entirely
onto their other PDUs, and a host with no live PDU is off (it must shed everything).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dcctl.errors import PlanError
from dcctl.inventory.model import Inventory
from dcctl.planning.power.workloads import WorkloadClass

DEFAULT_STEP_W = 25.0


@dataclass(frozen=True)
class Assignment:
    """The workload class and priority of one host's GPUs."""

    workload: str
    priority: int = 1


@dataclass(frozen=True)
class GpuGroup:
    """Interchangeable GPUs and the cap levels they may take."""

    id: int
    members: tuple[tuple[str, int], ...]  # (host, GPU index)
    workload: str
    priority: int
    min_w: float
    default_w: float
    max_w: float
    levels_w: tuple[float, ...]
    throughput: tuple[float, ...]  # relative throughput of one GPU at each level
    first_allowed: int = 0  # levels below this one break the class's throughput floor
    racks: tuple[tuple[str, int], ...] = ()  # (rack, GPUs of this group in it)

    @property
    def count(self) -> int:
        """Number of GPUs."""
        return len(self.members)

    @property
    def default_throughput(self) -> float:
        """Throughput of one GPU at its default limit (the baseline to compare against)."""
        return self.throughput[self.levels_w.index(self.default_w)]


@dataclass(frozen=True)
class Budget:
    """A power budget: ``fixed_w`` + Σ share × GPU caps must stay within ``limit_w``."""

    name: str
    kind: str  # feed, pdu or rack
    limit_w: float
    fixed_w: float
    shares: tuple[tuple[int, float], ...]  # (group id, share of each GPU's cap drawn here)
    rack_fixed: tuple[tuple[str, float], ...]  # (rack, its hosts' baseline watts drawn here)
    raw_limit_w: float = 0.0  # before headroom


@dataclass(frozen=True)
class PowerProblem:
    """Everything the power solver needs, and nothing from the inventory it does not."""

    groups: tuple[GpuGroup, ...]
    budgets: tuple[Budget, ...]
    headroom: float
    derate: Mapping[str, float]
    offline_hosts: tuple[str, ...] = ()
    fairness: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def gpus(self) -> int:
        """Number of GPUs."""
        return sum(g.count for g in self.groups)


def cap_levels(min_w: float, default_w: float, max_w: float, step_w: float) -> tuple[float, ...]:
    """Caps from min to max on a step grid; min, default and max are always levels."""
    min_w, default_w, max_w = float(min_w), float(default_w), float(max_w)
    levels = {min_w, default_w, max_w}
    value = min_w
    while value < max_w:
        levels.add(value)
        value += step_w
    return tuple(sorted(v for v in levels if min_w <= v <= max_w))


Limits = tuple[float, float, float]
#: A host's power path: (budget name, share of the host's draw it carries), sorted.
Path = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PowerRequest:
    """What to plan: workload classes and who runs them, the margins, and what is measured.

    ``assignments`` maps host → class and priority (hosts not in it run ``training`` at
    priority 1); ``floors`` maps a class to the least relative throughput its GPUs may get;
    ``hosts`` limits the GPUs planned (None: all), the others count against shared budgets at
    their default limits; ``derate`` maps a feed to the fraction of its power that survives;
    ``measured`` maps a host to the (min, default, max) limits its GPUs reported (``dcctl
    probe``), which take the place of its profile's; ``step_w`` is the cap grid.
    """

    classes: Mapping[str, WorkloadClass]
    assignments: Mapping[str, Assignment] = field(default_factory=dict)
    headroom: float = 0.0
    derate: Mapping[str, float] = field(default_factory=dict)
    floors: Mapping[str, float] = field(default_factory=dict)
    fairness: bool = False
    step_w: float = DEFAULT_STEP_W
    hosts: frozenset[str] | None = None
    measured: Mapping[str, list[Limits]] = field(default_factory=dict)


def build_power_problem(inventory: Inventory, request: PowerRequest) -> PowerProblem:
    """Group the GPUs, and express every feed, PDU and rack budget over the groups."""
    _check_request(inventory, request)
    notes: list[str] = []
    host_share, offline = _host_shares(inventory, request.derate)
    paths = {name: _power_path(inventory, name, share) for name, share in host_share.items()}
    groups, group_paths, baseline = _gpu_groups(inventory, request, paths, notes)
    budgets = _budgets(inventory, request, paths, group_paths, baseline)
    return PowerProblem(
        tuple(groups),
        tuple(budgets),
        request.headroom,
        dict(request.derate),
        tuple(offline),
        request.fairness,
        tuple(notes),
    )


def _check_request(inventory: Inventory, request: PowerRequest) -> None:
    """Feeds named in ``derate`` exist; the headroom is a fraction below 1."""
    for feed in request.derate:
        if feed not in inventory.feeds:
            raise PlanError(f"--derate: unknown feed '{feed}'")
    if not 0 <= request.headroom < 1:
        raise PlanError(f"headroom must be between 0 and 100 %, got {request.headroom * 100:g} %")


def _host_shares(
    inventory: Inventory, derate: Mapping[str, float]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Each powered host's share of draw per live PDU, and the hosts with no live PDU."""
    live_pdus = {p for p, pdu in inventory.pdus.items() if derate.get(pdu.feed, 1.0) > 0}
    host_share: dict[str, dict[str, float]] = {}
    offline: list[str] = []
    for name, host in inventory.hosts.items():
        if not host.pdus:
            host_share[name] = {}
            continue
        alive = [p for p in host.pdus if p in live_pdus]
        if not alive:
            offline.append(name)
            continue
        host_share[name] = {p: 1.0 / len(alive) for p in alive}
    return host_share, offline


def _power_path(inventory: Inventory, name: str, pdu_share: Mapping[str, float]) -> Path:
    """The budgets a host draws from (its rack, its PDUs, their feeds) and its share of each."""
    host = inventory.hosts[name]
    path: dict[str, float] = defaultdict(float)
    rack = inventory.racks.get(host.rack) if host.rack else None
    if rack is not None and rack.power_budget_w is not None:
        path[f"rack:{rack.name}"] += 1.0
    for pdu, share in pdu_share.items():
        p = inventory.pdus[pdu]
        if p.max_w is not None:
            path[f"pdu:{pdu}"] += share
        path[f"feed:{p.feed}"] += share
    return tuple(sorted(path.items()))


def _gpu_groups(
    inventory: Inventory, request: PowerRequest, paths: Mapping[str, Path], notes: list[str]
) -> tuple[list[GpuGroup], list[Path], dict[str, float]]:
    """Interchangeable GPUs as groups (with each group's power path), and each host's fixed draw.

    A host's fixed draw is its profile's baseline, plus its GPUs at their default limits when
    it is not planned now (``request.hosts``).
    """
    Spec = tuple[Path, float, float, float, str, int]
    by_key: dict[Spec, list[tuple[str, int]]] = defaultdict(list)
    baseline: dict[str, float] = {}
    for name, path in paths.items():
        host = inventory.hosts[name]
        profile = inventory.profiles.get(host.profile) if host.profile else None
        baseline[name] = (profile.baseline_w or 0.0) if profile else 0.0
        per_gpu = _gpu_limits(name, profile, request.measured, notes)
        if not per_gpu:
            continue
        if request.hosts is not None and name not in request.hosts:
            # Not planned now: its GPUs still draw from the shared budgets, counted at their
            # default limits (what they run at unless capped).
            baseline[name] += sum(default for _, (_, default, _) in per_gpu)
            continue
        assignment = request.assignments.get(name, Assignment("training", 1))
        if assignment.workload not in request.classes:
            raise PlanError(f"{name}: unknown workload class '{assignment.workload}'")
        for index, (lo_w, default_w, hi_w) in per_gpu:
            key = (path, lo_w, default_w, hi_w, assignment.workload, assignment.priority)
            by_key[key].append((name, index))

    groups: list[GpuGroup] = []
    group_paths: list[Path] = []
    for key in sorted(by_key, key=lambda k: by_key[k][0]):
        path, lo, default, hi, workload, priority = key
        levels = cap_levels(lo, default, hi, request.step_w)
        values = tuple(request.classes[workload].throughput(level / hi) for level in levels)
        in_rack: dict[str, int] = defaultdict(int)
        for host_name, _ in by_key[key]:
            in_rack[inventory.hosts[host_name].rack or "(no rack)"] += 1
        groups.append(
            GpuGroup(
                len(groups),
                tuple(sorted(by_key[key])),
                workload,
                priority,
                lo,
                default,
                hi,
                levels,
                values,
                _first_level(values, request.floors.get(workload), workload),
                tuple(sorted(in_rack.items())),
            )
        )
        group_paths.append(path)
    return groups, group_paths, baseline


def _first_level(values: tuple[float, ...], floor: float | None, workload: str) -> int:
    """The lowest cap level whose throughput meets the class's floor (0 without a floor)."""
    if floor is None:
        return 0
    allowed = [i for i, t in enumerate(values) if t >= floor - 1e-9]
    if not allowed:
        raise PlanError(
            f"floor {floor:g} for class '{workload}' is above what its GPUs reach "
            f"at their max limit ({values[-1]:.3f})"
        )
    return allowed[0]  # throughput never falls as the cap rises: allowed is a suffix


def _budgets(
    inventory: Inventory,
    request: PowerRequest,
    paths: Mapping[str, Path],
    group_paths: list[Path],
    baseline: Mapping[str, float],
) -> list[Budget]:
    """Every rack, PDU and feed budget that some host draws from, over the GPU groups."""
    keep = 1.0 - request.headroom
    fixed: dict[str, float] = defaultdict(float)
    shares: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    racks: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, path in paths.items():
        rack_name = inventory.hosts[name].rack or "(no rack)"
        for budget, share in path:
            fixed[budget] += baseline[name] * share
            racks[budget][rack_name] += baseline[name] * share
    for gid, path in enumerate(group_paths):
        for budget, share in path:
            shares[budget][gid] += share
    budgets: list[Budget] = []
    for rack in inventory.racks.values():
        name = f"rack:{rack.name}"
        if rack.power_budget_w is not None and name in fixed:
            budgets.append(_budget(name, "rack", rack.power_budget_w, keep, fixed, shares, racks))
    for pdu in inventory.pdus.values():
        name = f"pdu:{pdu.name}"
        if pdu.max_w is not None and name in fixed:
            budgets.append(_budget(name, "pdu", pdu.max_w, keep, fixed, shares, racks))
    for feed in inventory.feeds.values():
        name = f"feed:{feed.name}"
        if name in fixed:
            available = feed.available_w * request.derate.get(feed.name, 1.0)
            budgets.append(_budget(name, "feed", available, keep, fixed, shares, racks))
    return budgets


def _gpu_limits(
    name: str, profile: object, measured: Mapping[str, list[Limits]], notes: list[str]
) -> list[tuple[int, Limits]]:
    """(GPU index, (min, default, max) W) for a host: probed values first, else its profile."""
    if name in measured:
        return list(enumerate(measured[name]))
    gpu = getattr(profile, "gpu", None)
    if gpu is None or gpu.count == 0:
        return []
    if gpu.power_limits is None:
        notes.append(f"{name}: profile '{profile.name}' has no gpu.power_limit_w; not capped")  # type: ignore[attr-defined]
        return []
    lim = gpu.power_limits
    limits = (float(lim.min_w), float(lim.default_w), float(lim.max_w))
    return [(i, limits) for i in range(gpu.count)]


def limits_from_probe(documents: list[dict[str, Any]]) -> dict[str, list[Limits]]:
    """Per host, the power limits each GPU reported in ``dcctl probe -o json`` documents."""
    out: dict[str, list[Limits]] = {}
    for doc in documents:
        results = doc.get("results") if isinstance(doc, dict) else None
        gpu = results.get("gpu") if isinstance(results, dict) else None
        if not isinstance(gpu, dict) or not gpu.get("driver_present"):
            continue
        limits: list[Limits] = []
        for g in gpu.get("gpus") or []:
            lo, default, hi = (
                g.get("min_power_limit_w"),
                g.get("default_power_limit_w"),
                g.get("max_power_limit_w"),
            )
            if None in (lo, default, hi):
                limits = []
                break
            limits.append((float(lo), float(default), float(hi)))
        if limits:
            out[str(doc["host"])] = limits
    return out


def _budget(
    name: str,
    kind: str,
    raw: float,
    keep: float,
    fixed: Mapping[str, float],
    shares: Mapping[str, Mapping[int, float]],
    racks: Mapping[str, Mapping[str, float]],
) -> Budget:
    return Budget(
        name=name,
        kind=kind,
        limit_w=raw * keep,
        fixed_w=fixed[name],
        shares=tuple(sorted(shares.get(name, {}).items())),
        rack_fixed=tuple(sorted(racks[name].items())),
        raw_limit_w=raw,
    )
