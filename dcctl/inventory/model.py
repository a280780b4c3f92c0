"""The loaded inventory as plain, immutable values.

Everything here is already validated: references resolve, ranges are expanded, settings are
layered (defaults → groups → host) and each resolved setting remembers where it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from dcctl.inventory.selection import select
from dcctl.model.nodeset import NodeSet
from dcctl.source.diagnostics import Diagnostic, Loc
from dcctl.transport.target import SshSettings, Target

Transport = Literal["ssh", "local"]
Phase = Literal["single", "three"]

TRANSPORTS: tuple[str, ...] = ("ssh", "local")
DOMAIN_KINDS: tuple[str, ...] = (
    "nvlink",
    "leaf_switch",
    "spine_switch",
    "ib_switch",
    "cooling",
)


@dataclass(frozen=True, slots=True)
class Setting:
    """A resolved value and where it came from (``origin`` says which layer set it)."""

    value: Any
    loc: Loc | None
    origin: str

    def source(self) -> str:
        """``file:line:col (origin)`` or just the origin for built-in values."""
        return f"{self.loc} ({self.origin})" if self.loc else self.origin


SSH_FIELDS: tuple[str, ...] = (
    "user",
    "port",
    "identity_file",
    "proxy_jump",
    "host_key_policy",
    "connect_timeout",
)


SCHEDULER_FIELDS: tuple[str, ...] = (
    "type",
    "run_on",
    "node_name",
    "reason_prefix",
    "timeout",
    "resume_after",
)
SCHEDULER_TYPES: tuple[str, ...] = ("slurm",)


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """Which scheduler runs a host and how dcctl reaches it (the ``scheduler:`` section).

    ``node_name`` is empty until resolved for a host (then its Slurm node name); ``configured``
    says an inventory layer wrote the section (otherwise these are the built-in defaults).
    """

    type: str = "slurm"
    run_on: str = "local"  # where Slurm's clients run: here, or an inventory host over SSH
    node_name: str = ""
    reason_prefix: str = "dcctl:"
    timeout: float = 20.0  # seconds one client call may take
    resume_after: int = 3  # consecutive healthy health --drain runs before a resume
    configured: bool = False


@dataclass(frozen=True, slots=True)
class PowerLimits:
    """A GPU's power-limit range in watts."""

    min_w: float
    default_w: float
    max_w: float


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """The GPUs a host is expected to carry."""

    model: str
    count: int
    memory_gib: float | None = None
    tdp_w: float | None = None
    power_limits: PowerLimits | None = None
    driver: str | None = None
    nvlink_links: int | None = None  # active NVLink links per GPU (18 on H100 SXM; 0 on PCIe)
    mig: bool | None = None  # MIG mode the GPUs should be in (None: not judged)


@dataclass(frozen=True, slots=True)
class NicSpec:
    """Expected Ethernet NICs."""

    count: int | None = None
    speed_gbps: float | None = None
    mtu: int | None = None


@dataclass(frozen=True, slots=True)
class InfinibandSpec:
    """Expected InfiniBand ports."""

    ports: int
    rate_gbps: float | None = None
    names: tuple[str, ...] = ()  # the ports to judge, by name (mlx5_0 or mlx5_0/1); others ignored


@dataclass(frozen=True, slots=True)
class Profile:
    """A hardware profile: the SKU a host is expected to be."""

    name: str
    loc: Loc
    description: str | None = None
    cpus: float | None = None  # logical CPUs the host offers to jobs
    memory_gib: float | None = None  # memory the host offers to jobs
    gpu: GpuSpec | None = None
    nic: NicSpec | None = None
    infiniband: InfinibandSpec | None = None
    baseline_w: float | None = None
    nominal_w_override: float | None = None

    @property
    def nominal_w(self) -> float | None:
        """Nominal host draw: explicit ``nominal_w``, else baseline + GPUs × TDP, else None."""
        if self.nominal_w_override is not None:
            return self.nominal_w_override
        if self.baseline_w is None:
            return None
        gpu_w = 0.0
        if self.gpu is not None:
            if self.gpu.tdp_w is None:
                return None
            gpu_w = self.gpu.count * self.gpu.tdp_w
        return self.baseline_w + gpu_w


@dataclass(frozen=True, slots=True)
class Feed:
    """A power feed. Available power follows NetBox: V × A × util% (× √3 for three-phase)."""

    name: str
    site: str
    voltage: float
    amps: float
    phase: Phase
    max_utilization: float
    loc: Loc
    panel: str | None = None
    path: str = ""

    @property
    def available_w(self) -> float:
        """Watts this feed may carry."""
        watts = self.voltage * self.amps * self.max_utilization / 100.0
        return watts * math.sqrt(3) if self.phase == "three" else watts

    def formula(self) -> str:
        """The available-power formula with this feed's numbers, for messages."""
        root3 = " × √3" if self.phase == "three" else ""
        return f"{self.voltage:g} V × {self.amps:g} A{root3} × {self.max_utilization:g}%"


@dataclass(frozen=True, slots=True)
class Pdu:
    """A PDU in a rack, fed by one feed, powering some hosts."""

    name: str
    rack: str
    feed: str
    hosts: NodeSet
    loc: Loc
    max_w: float | None = None
    path: str = ""


@dataclass(frozen=True, slots=True)
class Rack:
    """A rack and what it holds."""

    name: str
    site: str
    room: str
    row: str | None
    hosts: NodeSet
    pdus: tuple[str, ...]
    loc: Loc
    power_budget_w: float | None = None
    path: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """A row of racks."""

    name: str
    site: str
    room: str
    racks: tuple[str, ...]
    loc: Loc


@dataclass(frozen=True, slots=True)
class Room:
    """A room (data hall); racks sit in rows or directly in the room."""

    name: str
    site: str
    rows: tuple[str, ...]
    racks: tuple[str, ...]
    loc: Loc


@dataclass(frozen=True, slots=True)
class Site:
    """A site: rooms and the power feeds that enter it."""

    name: str
    rooms: tuple[str, ...]
    feeds: tuple[str, ...]
    loc: Loc
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Domain:
    """A failure or interconnect domain (an NVLink domain, a leaf switch, ...)."""

    name: str
    kind: str
    hosts: NodeSet
    loc: Loc


@dataclass(frozen=True, slots=True)
class Group:
    """A named set of hosts, with its settings layer."""

    name: str
    hosts: NodeSet
    children: tuple[str, ...]
    depth: int
    loc: Loc
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Host:
    """One host with every setting resolved; ``settings`` records where each came from."""

    name: str
    address: str
    transport: Transport
    profile: str | None
    groups: tuple[str, ...]
    rack: str | None
    pdus: tuple[str, ...]
    domains: dict[str, str]
    ssh: SshSettings
    vars: dict[str, Any]
    settings: dict[str, Setting]
    loc: Loc
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)

    @property
    def slurm_node(self) -> str:
        """The Slurm node name: ``scheduler.node_name`` resolved, else the inventory name."""
        return self.scheduler.node_name or self.name

    @property
    def target(self) -> Target:
        """What a transport needs to reach this host.

        An address written in the inventory wins over ``~/.ssh/config``'s HostName.
        """
        written = self.settings.get("address")
        return Target(
            self.name, self.address, self.ssh, written is not None and written.loc is not None
        )


@dataclass
class Inventory:
    """A loaded, validated inventory."""

    files: tuple[str, ...]
    hosts: dict[str, Host]
    groups: dict[str, Group]
    auto_groups: dict[str, dict[str, NodeSet]]
    profiles: dict[str, Profile]
    sites: dict[str, Site]
    rooms: dict[str, Room]
    rows: dict[str, Row]
    racks: dict[str, Rack]
    feeds: dict[str, Feed]
    pdus: dict[str, Pdu]
    domains: dict[str, Domain]
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def all_hosts(self) -> NodeSet:
        """Every host."""
        return NodeSet.from_names(self.hosts)

    def select(self, expression: str | None) -> NodeSet:
        """Hosts matching a ``--limit`` expression (all hosts when None or empty)."""
        return select(self, expression)
