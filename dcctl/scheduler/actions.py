"""Drain and resume inventory hosts in the Slurm that runs them: plan, then (when asked) act.

Every scope (one Slurm cluster) is read before anything is changed: a controller that does not
answer stops the whole command with nothing changed (SchedulerUnreachableError, exit 3). The
decisions are :mod:`dcctl.scheduler.ownership`'s; this module maps inventory hosts to Slurm node
names and back, and records each action's outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dcctl.inventory.model import Inventory
from dcctl.scheduler.ownership import SchedulerAction, plan_drain, plan_resume
from dcctl.scheduler.scope import SlurmScope, open_client, slurm_scopes
from dcctl.scheduler.slurm_client import SlurmClient
from dcctl.scheduler.slurm_nodes import SlurmNode
from dcctl.transport.ssh import SshContext


@dataclass(frozen=True)
class HostAction:
    """One host's action in Slurm: what, why, the exact argv, and how it ended."""

    host: str
    node: str
    action: str  # drain | resume | skip
    why: str
    argv: tuple[str, ...] | None = None
    outcome: str = "planned"  # planned | done | failed | skipped
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a ``dcctl.slurm.action/1`` record)."""
        return {
            "host": self.host,
            "node": self.node,
            "action": self.action,
            "why": self.why,
            "argv": list(self.argv) if self.argv else None,
            "outcome": self.outcome,
            "error": self.error,
        }


#: Decides one scope's actions from its nodes' state (Slurm node name -> node).
Decide = Callable[[dict[str, SlurmNode], SlurmScope], list[SchedulerAction]]


#: Opens the client of one scope.
Opener = Callable[[SlurmScope], SlurmClient]


def inventory_opener(inventory: Inventory, context: SshContext | None = None) -> Opener:
    """Clients as the inventory's ``scheduler.run_on`` says (here or over SSH)."""
    return lambda scope: open_client(inventory, scope, context)


def run_actions(
    scopes: Sequence[SlurmScope],
    decide: Decide,
    opener: Opener,
    *,
    act: bool,
) -> list[HostAction]:
    """Read every scope, decide, then carry the actions out when ``act`` (else only plan)."""
    clients: list[tuple[SlurmScope, SlurmClient, dict[str, SlurmNode]]] = []
    try:
        for scope in scopes:
            client = opener(scope)
            clients.append((scope, client, {}))
            clients[-1][2].update(client.nodes())
        out: list[HostAction] = []
        for scope, client, nodes in clients:
            by_node = scope.hosts_by_node
            for a in decide(nodes, scope):
                action = HostAction(by_node[a.node], a.node, a.action, a.why, a.argv,
                                    "planned" if a.argv else "skipped")  # fmt: skip
                if act and a.argv is not None:
                    error = client.update(a.argv)
                    action = replace(action, outcome="failed" if error else "done", error=error)
                out.append(action)
        return out
    finally:
        for _, client, _ in clients:
            client.close()


def drain_hosts(
    inventory: Inventory,
    hosts: Sequence[str],
    reason: str,
    *,
    act: bool,
    context: SshContext | None = None,
) -> list[HostAction]:
    """Drain ``hosts`` with dcctl's reason (an admin's drain is left alone)."""
    return run_actions(
        slurm_scopes(inventory, hosts),
        lambda nodes, scope: plan_drain(nodes, list(scope.nodes.values()), reason, scope.prefix),
        inventory_opener(inventory, context), act=act,
    )  # fmt: skip


def resume_hosts(
    inventory: Inventory,
    hosts: Sequence[str],
    *,
    force: bool = False,
    act: bool,
    context: SshContext | None = None,
) -> list[HostAction]:
    """Resume ``hosts``: only dcctl's drains unless ``force``."""
    return run_actions(
        slurm_scopes(inventory, hosts),
        lambda nodes, scope: plan_resume(nodes, list(scope.nodes.values()), scope.prefix, force),
        inventory_opener(inventory, context), act=act,
    )  # fmt: skip
