"""``apply --drain-with slurm``: each batch leaves Slurm before it changes and returns after.

A handler of the rollout events (:mod:`dcctl.playbook.events`), so the executor knows nothing of
Slurm. Per batch:

1. **BatchStarted**: drain the batch's hosts with the run's own reason (``dcctl: apply <run>``;
   an admin's drain is kept and never resumed by dcctl), then wait until no job runs on them
   (DRAINED) or ``drain_timeout`` passes. A host still running jobs then is held back (its drain
   undone: it goes on running jobs, unchanged) or the rollout stops (``on_timeout='stop'``).
2. The executor applies the batch; the health gate judges it.
3. **BatchSettled**: the hosts that are done, in a batch that passed the gate, are resumed. A
   failed host, or a batch the gate stopped, stays drained with the run's reason.
4. **RunFinished**: hosts that an earlier, interrupted attempt of this run finished but left
   drained are resumed (``--resume RUN``: the reason carries the run id).

Every Slurm action is journalled (``slurm_drain``, ``slurm_held``, ``slurm_resume``,
``slurm_left_drained``). Slurm unreachable before a batch stops the rollout with nothing of that
batch changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dcctl.errors import DcctlError
from dcctl.inventory.model import Inventory
from dcctl.playbook.events import (
    BatchSettled,
    BatchStarted,
    Event,
    RunFinished,
    RunStarted,
)
from dcctl.playbook.journal import Journal
from dcctl.scheduler.ownership import owned_reason, plan_drain, plan_resume
from dcctl.scheduler.scope import SlurmScope, open_client, slurm_scopes
from dcctl.scheduler.slurm_client import SlurmClient
from dcctl.scheduler.slurm_nodes import SlurmNode
from dcctl.transport.ssh import SshContext

ON_TIMEOUT = ("skip", "stop")


class SlurmDrainStep:
    """Drain → wait → (apply) → resume, batch by batch (see the module docstring)."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        drain_timeout: float = 3600.0,
        on_timeout: str = "skip",
        poll_s: float = 2.0,
        context: SshContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
    ) -> None:
        """Drain through the Slurm each host's ``scheduler:`` names; wait ``drain_timeout`` s."""
        if on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {ON_TIMEOUT}")
        self.inventory = inventory
        self.drain_timeout = drain_timeout
        self.on_timeout = on_timeout
        self.poll_s = poll_s
        self.context = context or SshContext()
        self.clock = clock
        self.sleep = sleep
        self.stop = stop
        self.journal: Journal | None = None
        self.run_id = ""
        self.ours: dict[str, str] = {}  # host -> node, drained by this run (to resume)
        self.finished: set[str] = set()
        self.left_drained: dict[str, str] = {}  # host -> why it stays drained

    def bind(self, journal: Journal) -> None:
        """Write Slurm actions to the run's journal."""
        self.journal = journal

    def reason(self, scope: SlurmScope) -> str:
        """The run's own drain reason in a scope."""
        return owned_reason(f"apply {self.run_id}", scope.prefix)

    def __call__(self, event: Event) -> str | None:
        """Drain at BatchStarted, resume at BatchSettled and (earlier attempts) at RunFinished."""
        try:
            if isinstance(event, RunStarted):
                self.run_id = event.run_id
                self.finished = set(event.finished)
            elif isinstance(event, BatchStarted) and not event.stopping:
                return self._drain_and_wait(event)
            elif isinstance(event, BatchSettled):
                self._settle(event)
            elif isinstance(event, RunFinished):
                self._resume_earlier()
        except DcctlError as exc:
            self._write("slurm_error", None, error=str(exc))
            return f"slurm: {exc}"
        return None

    # -- the steps -----------------------------------------------------------------------

    def _drain_and_wait(self, event: BatchStarted) -> str | None:
        scopes = slurm_scopes(self.inventory, event.hosts)
        pending: dict[str, tuple[SlurmScope, str]] = {}
        for scope in scopes:
            with self._client(scope) as client:
                nodes = client.nodes()
                for action in plan_drain(nodes, list(scope.nodes.values()), self.reason(scope),
                                         scope.prefix):  # fmt: skip
                    host = scope.hosts_by_node[action.node]
                    node = nodes.get(action.node)
                    if node is None:
                        event.held[host] = f"not a node of this Slurm ({action.node})"
                        self._write("slurm_held", host, node=action.node, why=event.held[host])
                        continue
                    if action.argv is not None:
                        error = client.update(action.argv)
                        reason = self.reason(scope)
                        self._write("slurm_drain", host, node=action.node, reason=reason,
                                    error=error)  # fmt: skip
                        if error is not None:
                            event.held[host] = f"slurm drain failed: {error}"
                            continue
                        self.ours[host] = action.node
                    elif node.owned_by(self.reason(scope)):
                        self.ours[host] = action.node  # drained by an earlier attempt of this run
                    pending[host] = (scope, action.node)
        return self._wait(event, pending)

    def _wait(self, event: BatchStarted, pending: dict[str, tuple[SlurmScope, str]]) -> str | None:
        deadline = self.clock() + self.drain_timeout
        busy = dict(pending)
        while busy:
            for scope in {id(s): s for s, _ in busy.values()}.values():
                with self._client(scope) as client:
                    nodes = client.nodes()
                for host, (s, node) in list(busy.items()):
                    current = nodes.get(node)
                    if s is scope and (current is None or current.drained):
                        del busy[host]
            if not busy or self.clock() >= deadline:
                break
            if self.stop is not None and self.stop.is_set():
                for host in busy:
                    self._write("slurm_left_drained", host, why="interrupted while draining")
                return f"interrupted while batch {event.number} drained (left drained)"
            self.sleep(self.poll_s)
        if not busy:
            return None
        names = ", ".join(sorted(busy))
        why = f"jobs still running after --drain-timeout {self.drain_timeout:g} s"
        if self.on_timeout == "stop":
            for host in busy:
                self._write("slurm_left_drained", host, why=why)
            return f"batch {event.number}: {names}: {why} (left drained; --resume continues)"
        for host, (scope, node) in busy.items():
            event.held[host] = why
            self._write("slurm_held", host, node=node, why=why)
            if host in self.ours:
                self._resume(scope, {host: node}, "held back: drain undone")
        return None

    def _settle(self, event: BatchSettled) -> None:
        done = {h for h, status in event.statuses.items() if status == "done"}
        self.finished |= done
        ours = {h: n for h, n in self.ours.items() if h in event.statuses}
        back = {h: n for h, n in ours.items() if h in done and event.stopping is None}
        for host in ours:
            if host not in back:
                why = event.stopping or f"{event.statuses.get(host, 'not finished')}"
                self.left_drained[host] = why
                self._write("slurm_left_drained", host, why=why)
        for scope in slurm_scopes(self.inventory, back):
            self._resume(scope, {h: back[h] for h in scope.nodes}, "batch done")

    def _resume_earlier(self) -> None:
        """Hosts finished (now or before) that still carry this run's drain: resume them."""
        finished = [h for h in self.finished if h not in self.left_drained]
        for scope in slurm_scopes(self.inventory, finished):
            with self._client(scope) as client:
                nodes = client.nodes()
            mine = {h: n for h, n in scope.nodes.items()
                    if _owned(nodes.get(n), self.reason(scope))}  # fmt: skip
            if mine:
                self._resume(scope, mine, "finished in an earlier attempt of this run")

    def _resume(self, scope: SlurmScope, hosts: dict[str, str], why: str) -> None:
        with self._client(scope) as client:
            nodes = client.nodes()
            for host, node in hosts.items():
                if not _owned(nodes.get(node), self.reason(scope)):
                    continue  # someone else's drain now, or no longer drained: left alone
                action = plan_resume(nodes, [node], scope.prefix)[0]
                if action.argv is None:
                    continue
                error = client.update(action.argv)
                self._write("slurm_resume", host, node=node, why=why, error=error)
                self.ours.pop(host, None)
                if error is not None:
                    self.left_drained[host] = f"resume failed: {error}"

    # -- plumbing --------------------------------------------------------------------------

    def _client(self, scope: SlurmScope) -> _Client:
        return _Client(open_client(self.inventory, scope, self.context))

    def _write(self, kind: str, host: str | None, **data: object) -> None:
        if self.journal is not None:
            self.journal.write(kind, host, **data)

    @property
    def still_drained(self) -> dict[str, str]:
        """Hosts this run drained and left drained, with why (for the summary)."""
        left = dict(self.left_drained)
        for host in self.ours:
            left.setdefault(host, "drained by this run, not finished")
        return left


def _owned(node: SlurmNode | None, reason: str) -> bool:
    return node is not None and node.drain and node.reason == reason


class _Client:
    """``with`` for a SlurmClient (closed at the end)."""

    def __init__(self, client: SlurmClient) -> None:
        self.client = client

    def __enter__(self) -> SlurmClient:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
