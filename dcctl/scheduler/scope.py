"""Which Slurm each inventory host belongs to, and a client to reach it.

Hosts are grouped by their resolved ``scheduler:`` settings (where the clients run, timeout,
reason prefix): one group is one Slurm cluster as dcctl reaches it, read once per command.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dcctl.errors import InputError
from dcctl.inventory.model import Inventory
from dcctl.scheduler.slurm_client import RemoteRunner, SlurmClient
from dcctl.transport.registry import make_transport
from dcctl.transport.ssh import SshContext


@dataclass(frozen=True)
class SlurmScope:
    """Hosts managed through one Slurm cluster, and how dcctl reaches that cluster."""

    run_on: str
    timeout: float
    prefix: str
    resume_after: int
    nodes: dict[str, str] = field(default_factory=dict)  # inventory host -> Slurm node name

    @property
    def hosts_by_node(self) -> dict[str, str]:
        """Slurm node name -> inventory host."""
        return {node: host for host, node in self.nodes.items()}


def slurm_scopes(inventory: Inventory, hosts: Iterable[str]) -> list[SlurmScope]:
    """The selected hosts grouped by the Slurm that runs them (in the order first seen)."""
    groups: dict[tuple[str, float, str, int], dict[str, str]] = {}
    for name in hosts:
        sched = inventory.hosts[name].scheduler
        if sched.type != "slurm":
            raise InputError(f"{name}: scheduler type '{sched.type}' is not supported")
        key = (sched.run_on, sched.timeout, sched.reason_prefix, sched.resume_after)
        groups.setdefault(key, {})[name] = inventory.hosts[name].slurm_node
    return [SlurmScope(*key, nodes=nodes) for key, nodes in groups.items()]


def open_client(
    inventory: Inventory, scope: SlurmScope, context: SshContext | None = None
) -> SlurmClient:
    """A client for the scope's Slurm: here, or on its ``run_on`` host (its transport)."""
    if scope.run_on == "local":
        return SlurmClient(timeout=scope.timeout)
    host = inventory.hosts[scope.run_on]
    runner = RemoteRunner(make_transport(host.transport, host.target, context or SshContext()))
    return SlurmClient(runner, scope.timeout, where=scope.run_on, close=runner.close)
