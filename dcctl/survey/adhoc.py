"""``dcctl run``: one command on many hosts, results gathered by identical output.

The command is an argv quoted once for the remote shell (:class:`~dcctl.model.command.Command`);
a shell pipeline only by explicit opt-in (``Command.script``). Each host ends as exactly one of
ok / failed / unreachable / timed out, with its exit status and output; hosts whose stdout,
stderr and exit status are the same are one group (as ``clush -b`` / ``dshbak -c`` show them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dcctl.inventory.model import Inventory
from dcctl.model.command import Command
from dcctl.transport.fanout import HostStatus, Listener, fan_out
from dcctl.transport.registry import make_transport
from dcctl.transport.ssh import SshContext


@dataclass(frozen=True)
class RunResult:
    """How the command went on one host."""

    host: str
    status: HostStatus
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    error: str | None = None

    @property
    def reached(self) -> bool:
        """The command ran to an exit status."""
        return self.status is HostStatus.ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a ``dcctl.run.host/1`` record)."""
        return {"host": self.host, "status": self.status.value, "rc": self.rc,
                "stdout": self.stdout, "stderr": self.stderr,
                "duration_s": round(self.duration_s, 3), "error": self.error}  # fmt: skip


def become(command: Command, how: str | None) -> Command:
    """The command through ``sudo -n --`` when asked (never a password prompt)."""
    if how is None:
        return command
    if how != "sudo":
        raise ValueError(f"become {how!r}: only sudo")
    return Command(("sudo", "-n", "--", *command.argv), frozenset(i + 3 for i in command.secret))


def run_command(
    inventory: Inventory,
    hosts: Sequence[str],
    command: Command,
    *,
    forks: int = 64,
    timeout: float | None = None,
    deadline_s: float | None = None,
    listener: Listener | None = None,
    context: SshContext | None = None,
) -> list[RunResult]:
    """Run ``command`` on every host (at most ``forks`` at once); results in host order."""
    context = context or SshContext()

    def work(name: str) -> RunResult:
        host = inventory.hosts[name]
        transport = make_transport(host.transport, host.target, context)
        start = time.monotonic()
        try:
            transport.connect()
            run = transport.run(command, timeout=timeout)
        finally:
            transport.close()
        took = time.monotonic() - start
        if run.timed_out or run.rc is None:  # the partial output is kept
            why = f"timed out after {timeout:g} s" if timeout else "timed out"
            return RunResult(name, HostStatus.timed_out, None, run.stdout, run.stderr, took, why)
        return RunResult(name, HostStatus.ok, run.rc, run.stdout, run.stderr, took)

    try:
        outcomes = fan_out(hosts, work, forks=forks, deadline_s=deadline_s, listener=listener,
                           status_of=lambda r: r.status, error_of=lambda r: r.error)  # fmt: skip
    finally:
        context.close()
    return [
        o.value if o.value is not None
        else RunResult(o.host, o.status, duration_s=o.duration_s, error=o.error)
        for o in outcomes
    ]  # fmt: skip


def gather(results: Sequence[RunResult]) -> list[tuple[list[str], RunResult]]:
    """Hosts grouped by identical (stdout, stderr, rc), largest group first, then by host."""
    groups: dict[tuple[str, str, int | None], list[str]] = {}
    first: dict[tuple[str, str, int | None], RunResult] = {}
    for r in results:
        if not r.reached:
            continue
        key = (r.stdout, r.stderr, r.rc)
        groups.setdefault(key, []).append(r.host)
        first.setdefault(key, r)
    return sorted(((hosts, first[k]) for k, hosts in groups.items()),
                  key=lambda g: (-len(g[0]), g[0][0]))  # fmt: skip
