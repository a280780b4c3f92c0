"""Fitting sized workloads to the site: which profiles qualify, nodes and racks, power, energy.

The power check reuses the power plan: the chosen hosts run the workload's class, every other
host stays at its default limits, and every rack, PDU and feed budget must hold. Caps the plan
imposes slow the run by the class's throughput curve, and the time is scaled accordingly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dcctl.inventory.model import Host, Inventory, Profile
from dcctl.planning.capacity.assumptions import DEFAULT_PRICE, DEFAULT_PUE
from dcctl.planning.capacity.gpu_specs import GpuModel, find_model
from dcctl.planning.capacity.sizing import (
    InferenceSize,
    TrainingSize,
    gpus_for_target,
    size_inference,
    size_training,
)
from dcctl.planning.capacity.workloads import Training, Workload
from dcctl.planning.power.plan import plan_power
from dcctl.planning.power.problem import Assignment, PowerRequest
from dcctl.planning.power.workloads import BUILTIN
from dcctl.planning.solver_options import SolverOptions


@dataclass(frozen=True)
class CapacityOptions:
    """Site-wide assumptions and limits of a capacity plan."""

    pue: float = DEFAULT_PUE
    price_per_kwh: float = DEFAULT_PRICE
    busy_gpus: Mapping[str, int] = field(default_factory=dict)  # host → GPUs already taken
    hosts: frozenset[str] | None = None  # only these hosts (``--limit``)
    solver: SolverOptions = field(default_factory=lambda: SolverOptions(time_limit_s=5))


@dataclass
class Fit:
    """One workload on one profile of the site."""

    profile: str
    gpu: GpuModel
    gpus_per_node: int
    free_gpus: int
    nodes: int
    hosts: list[str]
    racks: list[str]
    size: TrainingSize | InferenceSize
    gpu_watts: float  # mean cap of the workload's GPUs (the power plan's, or default)
    throughput: float  # relative to default limits (< 1 when the budgets impose caps)
    power_ok: bool
    power_note: str
    it_kw: float
    pue: float
    price_per_kwh: float
    problems: list[str] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        """GPUs the workload takes."""
        return self.size.gpus

    @property
    def fits(self) -> bool:
        """Enough free GPUs, memory and power."""
        return not self.problems

    @property
    def facility_kw(self) -> float:
        """IT power × PUE."""
        return self.it_kw * self.pue

    @property
    def seconds(self) -> float | None:
        """Training wall time on this fit, slowed by any caps (None for a service)."""
        if isinstance(self.size, TrainingSize):
            return self.size.seconds / max(self.throughput, 1e-9)
        return None

    @property
    def energy_mwh(self) -> float | None:
        """Facility energy of the run (None for a service: see kW)."""
        seconds = self.seconds
        return None if seconds is None else self.facility_kw * seconds / 3600 / 1000

    @property
    def cost(self) -> float | None:
        """Energy cost of the run."""
        energy = self.energy_mwh
        return None if energy is None else energy * 1000 * self.price_per_kwh


def qualifying_profiles(
    inventory: Inventory, workload: Workload
) -> list[tuple[Profile, GpuModel, list[Host]]]:
    """Profiles with GPUs of a known model (the workload's, if it names one), and their hosts."""
    out = []
    for profile in inventory.profiles.values():
        if profile.gpu is None or profile.gpu.count < 1:
            continue
        model = find_model(profile.gpu.model)
        if model is None or (workload.gpu_model and model.name != workload.gpu_model):
            continue
        if profile.gpu.memory_gib:
            model = _with_memory(model, profile.gpu.memory_gib)
        hosts = [h for h in inventory.hosts.values() if h.profile == profile.name]
        out.append((profile, model, hosts))
    return out


def _with_memory(model: GpuModel, gib: float) -> GpuModel:
    """The model with the memory the profile states (GiB there, decimal GB here)."""
    return dataclasses.replace(model, memory_gb=gib * 2**30 / 1e9)


def fit_workload(
    inventory: Inventory, workload: Workload, options: CapacityOptions, gpus: int | None = None
) -> list[Fit]:
    """The workload on every qualifying profile of the site (best first: fits, then fastest)."""
    fits = []
    for profile, model, hosts in qualifying_profiles(inventory, workload):
        if options.hosts is not None:
            hosts = [h for h in hosts if h.name in options.hosts]
        if not hosts:
            continue
        fits.append(_fit(inventory, workload, options, profile, model, hosts, gpus))
    return sorted(fits, key=lambda f: (not f.fits, f.seconds or 0.0, -f.free_gpus))


def _fit(
    inventory: Inventory,
    workload: Workload,
    options: CapacityOptions,
    profile: Profile,
    model: GpuModel,
    hosts: Sequence[Host],
    gpus: int | None,
) -> Fit:
    assert profile.gpu is not None
    per_node = profile.gpu.count
    free_by_host = {h.name: per_node - min(per_node, options.busy_gpus.get(h.name, 0))
                    for h in hosts}  # fmt: skip
    free = sum(free_by_host.values())
    problems: list[str] = []
    size: TrainingSize | InferenceSize
    if isinstance(workload, Training):
        want = gpus or workload.gpus or gpus_for_target(workload, model, per_node)
        if want is None and workload.gpu_hours is not None:
            want = free  # a GPU-hour budget: run on what is free, check the budget below
        want = want or free
        network = _network_gbps(profile)
        size = size_training(workload, model, max(1, want), per_node, network)
        if not size.memory.fits:
            problems.append(
                f"does not fit in GPU memory: {size.memory.total / 1e9:.0f} GB per GPU needed, "
                f"{size.memory.capacity / 1e9:.0f} GB usable (more GPUs, more pipeline stages "
                "or full recomputation would lower it)"
            )
        if workload.gpu_hours is not None and size.gpu_hours > workload.gpu_hours:
            problems.append(
                f"needs {size.gpu_hours:,.0f} GPU-hours, over the budget of "
                f"{workload.gpu_hours:,.0f}"
            )
    else:
        size = size_inference(workload, model)
        if gpus:
            size.replicas = max(1, gpus // size.gpus_per_replica)
    if size.gpus > free:
        short = size.gpus - free
        on_free = ""
        if isinstance(size, TrainingSize) and free > 0:
            days = size.seconds * size.gpus / free / 86400
            on_free = f"; on the {free:,} free it would take {days:,.1f} days"
        problems.append(
            f"needs {size.gpus:,} GPUs, {free:,} free on {profile.name} "
            f"({math.ceil(short / per_node):,} more nodes of {per_node}){on_free}"
        )
    chosen = _choose_hosts(hosts, free_by_host, size.gpus)
    nodes = len(chosen)
    racks = sorted({h.rack or "(no rack)" for h in hosts if h.name in chosen})
    watts, throughput, ok, note = _power(inventory, workload, options, profile, chosen)
    if not ok:
        problems.append(note)
    # The whole workload's draw, on the nodes it needs (more than the site has, if it does not fit).
    baseline = (profile.baseline_w or 0.0) * math.ceil(size.gpus / per_node)
    it_kw = (size.gpus * watts + baseline) / 1000
    return Fit(
        profile.name, model, per_node, free, nodes, chosen, racks, size, watts, throughput,
        ok, note, it_kw, options.pue, options.price_per_kwh, problems,
    )  # fmt: skip


def _network_gbps(profile: Profile) -> float:
    """A node's inter-node bandwidth: its InfiniBand ports, else its Ethernet NICs."""
    if profile.infiniband is not None and profile.infiniband.rate_gbps:
        return profile.infiniband.ports * profile.infiniband.rate_gbps
    if profile.nic is not None and profile.nic.speed_gbps:
        return (profile.nic.count or 1) * profile.nic.speed_gbps
    return 0.0


def _choose_hosts(hosts: Sequence[Host], free: Mapping[str, int], gpus: int) -> list[str]:
    """Whole free nodes first, rack by rack (fewest racks), until the GPUs are covered."""
    order = sorted(hosts, key=lambda h: (-free[h.name], h.rack or "", h.name))
    chosen, covered = [], 0
    for host in order:
        if covered >= gpus or free[host.name] == 0:
            break
        chosen.append(host.name)
        covered += free[host.name]
    return chosen


def _power(
    inventory: Inventory,
    workload: Workload,
    options: CapacityOptions,
    profile: Profile,
    chosen: Sequence[str],
) -> tuple[float, float, bool, str]:
    """(mean GPU cap W, relative throughput, budgets hold, what the power plan said)."""
    assert profile.gpu is not None
    tdp = profile.gpu.tdp_w or 0.0
    if not chosen or profile.gpu.power_limits is None:
        return tdp, 1.0, True, "no power limits in the profile: GPUs counted at their TDP"
    klass = workload.workload_class if isinstance(workload, Training) else "inference-decode"
    if klass not in BUILTIN:
        klass = "training"
    request = PowerRequest(
        BUILTIN, {h: Assignment(klass, 1) for h in chosen}, hosts=frozenset(chosen)
    )
    plan = plan_power(inventory, request, options.solver)
    if not plan.feasible:
        return (
            tdp,
            1.0,
            False,
            (f"the site's power budgets cannot carry it (tightest: {plan.tightest})"),
        )
    caps = [w for (host, _), w in plan.caps.items() if host in chosen]
    if not caps:
        return tdp, 1.0, True, "no GPU caps planned"
    curve = BUILTIN[klass]
    default = profile.gpu.power_limits.default_w
    ratios = [curve.throughput(w / profile.gpu.power_limits.max_w) for w in caps]
    at_default = curve.throughput(default / profile.gpu.power_limits.max_w)
    throughput = sum(ratios) / len(ratios) / at_default if at_default else 1.0
    mean = sum(caps) / len(caps)
    note = (
        "every budget holds at default limits"
        if mean >= default - 0.5
        else f"budgets hold with GPUs capped at {mean:.0f} W on average "
        f"({throughput * 100:.1f} % of default throughput)"
    )
    return mean, min(1.0, throughput), True, note
