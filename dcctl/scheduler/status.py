"""``dcctl slurm status``: each host's Slurm state joined with its jobs and dcctl's last verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dcctl.inventory.model import Inventory
from dcctl.scheduler.scope import open_client, slurm_scopes
from dcctl.scheduler.slurm_nodes import SlurmNode
from dcctl.transport.ssh import SshContext


@dataclass(frozen=True)
class HostSlurmState:
    """One inventory host in Slurm (``node`` None: Slurm does not know its node name)."""

    host: str
    node_name: str
    node: SlurmNode | None
    jobs: tuple[str, ...]
    owned: bool  # the current reason is dcctl's
    verdict: str | None = None  # what dcctl's health loop last found
    verdict_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a ``dcctl.slurm.node/1`` record)."""
        n = self.node
        return {
            "host": self.host,
            "node": self.node_name,
            "in_slurm": n is not None,
            "state": n.state if n else None,
            "flags": list(n.flags) if n else [],
            "reason": n.reason if n else None,
            "reason_by": n.reason_by if n else None,
            "owned_by_dcctl": self.owned,
            "gpus": n.gpus if n else None,
            "gpus_used": n.gpus_used if n else None,
            "gpu_indexes_used": list(n.gpu_indexes_used) if n else [],
            "jobs": list(self.jobs),
            "verdict": self.verdict,
            "verdict_at": self.verdict_at,
        }


def slurm_status(
    inventory: Inventory,
    hosts: Sequence[str],
    verdicts: Mapping[str, tuple[str, float]] | None = None,
    context: SshContext | None = None,
) -> list[HostSlurmState]:
    """Read every scope's nodes and jobs; one entry per selected host, in inventory order."""
    verdicts = verdicts or {}
    out: dict[str, HostSlurmState] = {}
    for scope in slurm_scopes(inventory, hosts):
        client = open_client(inventory, scope, context)
        try:
            nodes = client.nodes()
            jobs: dict[str, list[str]] = {}
            for job in client.jobs():
                for held in job.nodes:
                    jobs.setdefault(held, []).append(job.id)
        finally:
            client.close()
        for host, name in scope.nodes.items():
            node = nodes.get(name)
            verdict = verdicts.get(host)
            out[host] = HostSlurmState(
                host, name, node, tuple(jobs.get(name, ())),
                node is not None and node.drain and node.owned_by(scope.prefix),
                verdict[0] if verdict else None, verdict[1] if verdict else None,
            )  # fmt: skip
    return [out[h] for h in hosts if h in out]


def node_states(
    inventory: Inventory, hosts: Sequence[str], context: SshContext | None = None
) -> dict[str, SlurmNode]:
    """Each selected host's Slurm node state, by inventory host (hosts Slurm lacks left out)."""
    out: dict[str, SlurmNode] = {}
    for scope in slurm_scopes(inventory, hosts):
        client = open_client(inventory, scope, context)
        try:
            nodes = client.nodes()
        finally:
            client.close()
        out.update({h: nodes[n] for h, n in scope.nodes.items() if n in nodes})
    return out
