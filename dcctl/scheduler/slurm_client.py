"""Running Slurm's own clients (``scontrol``, ``squeue``) where the inventory says, with a timeout.

Where: ``local`` (here, with ``SLURM_CONF`` and the rest of the environment as they are) or an
inventory host reached over SSH (the controller or a login node: ``scheduler.run_on``). Always an
argv, quoted once by :class:`~dcctl.model.command.Command`; never a shell string. A client that
does not answer in time, a host that cannot be reached, or output saying slurmctld did not answer
is :class:`SchedulerUnreachableError` (exit 3): the state is unknown and nothing is changed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dcctl.errors import NodeSetError, TransportError
from dcctl.model.command import Command
from dcctl.model.nodeset import expand
from dcctl.scheduler.slurm_nodes import (
    SchedulerUnreachableError,
    SlurmNode,
    SlurmOutputError,
    check_reachable,
    parse_scontrol_nodes,
)
from dcctl.transport.base import Transport

#: Longest one client call may take by default (slurmctld down: a client waits ~10 s by itself).
CLIENT_TIMEOUT_S = 20.0

#: Runs one client argv with a timeout: (stdout and stderr, exit status or None if timed out).
Runner = Callable[[Sequence[str], float], tuple[str, int | None]]


def run_slurm(argv: Sequence[str], timeout: float = CLIENT_TIMEOUT_S) -> tuple[str, int | None]:
    """A Slurm client's output (stdout and stderr) and exit status here; None when it timed out."""
    try:
        run = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                             check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    except FileNotFoundError:
        raise SchedulerUnreachableError(f"slurm: {argv[0]} is not installed here") from None
    except subprocess.TimeoutExpired:
        return "", None
    return run.stdout + run.stderr, run.returncode


class RemoteRunner:
    """Runs Slurm's clients on an inventory host over its transport (one session, kept open)."""

    def __init__(self, transport: Transport) -> None:
        """Run on ``transport``'s host (connected on first use)."""
        self.transport = transport
        self.connected = False

    def __call__(self, argv: Sequence[str], timeout: float) -> tuple[str, int | None]:
        """Run ``argv`` there; a host that cannot be reached is SchedulerUnreachableError."""
        where = self.transport.host
        try:
            if not self.connected:
                self.transport.connect()
                self.connected = True
            run = self.transport.run(Command.of(argv), timeout=timeout)
        except TransportError as exc:
            raise SchedulerUnreachableError(f"slurm: {where} (scheduler.run_on): {exc}") from None
        if run.timed_out or run.rc is None:
            return "", None
        if run.rc == 127:
            raise SchedulerUnreachableError(f"slurm: {argv[0]} is not installed on {where}")
        return run.stdout + run.stderr, run.rc

    def close(self) -> None:
        """Close the session."""
        self.transport.close()


@dataclass(frozen=True)
class SlurmJob:
    """A running (or completing) job: its id, owner and the nodes it holds."""

    id: str
    user: str
    state: str
    nodes: tuple[str, ...]


class SlurmClient:
    """Slurm's state and updates through one runner (here or on ``run_on``)."""

    def __init__(
        self,
        runner: Runner = run_slurm,
        timeout: float = CLIENT_TIMEOUT_S,
        where: str = "local",
        close: Callable[[], None] | None = None,
    ) -> None:
        """A client that runs its commands with ``runner`` (``where`` names it in messages)."""
        self.runner = runner
        self.timeout = timeout
        self.where = where
        self._close = close

    def run(self, argv: Sequence[str]) -> tuple[str, int | None]:
        """Run one client command; its output and exit status (None: timed out)."""
        return self.runner(argv, self.timeout)

    def read(self, argv: Sequence[str]) -> str:
        """Run a reading command: unreachable and failures are errors, never empty state."""
        text, rc = self.run(argv)
        check_reachable(text, rc)
        if rc != 0:
            first = (text.strip().splitlines() or ["no output"])[0]
            raise SlurmOutputError(f"slurm: {' '.join(argv[:3])} failed: {first}")
        return text

    def nodes(self) -> dict[str, SlurmNode]:
        """Every node's state, by Slurm node name (``scontrol -o -d show node``)."""
        text = self.read(("scontrol", "-o", "-d", "show", "node"))
        return {n.name: n for n in parse_scontrol_nodes(text)}

    def jobs(self) -> list[SlurmJob]:
        """Running and completing jobs (``squeue``), each with its nodes expanded."""
        text = self.read(("squeue", "--noheader", "--states=RUNNING,COMPLETING",
                          "--format=%A %u %T %N"))  # fmt: skip
        return parse_squeue(text)

    def update(self, argv: Sequence[str]) -> str | None:
        """Carry out one ``scontrol update``: None when done, else what went wrong (one line)."""
        text, rc = self.run(argv)
        if rc == 0:
            return None
        return (text.strip().splitlines() or ["timed out"])[0]

    def close(self) -> None:
        """Release what the runner holds (an SSH session)."""
        if self._close is not None:
            self._close()


def parse_squeue(text: str) -> list[SlurmJob]:
    """Jobs from ``squeue --noheader --format='%A %u %T %N'`` (node lists in hostlist syntax)."""
    jobs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) == 3:  # a job between nodes (no node list yet)
            parts.append("")
        if len(parts) != 4:
            raise SlurmOutputError(f"slurm: squeue line {number} is not 'id user state nodes'")
        job, user, state, nodelist = parts
        try:
            nodes = tuple(expand(nodelist)) if nodelist else ()
        except NodeSetError:
            raise SlurmOutputError(f"slurm: squeue line {number}: node list {nodelist!r}") from None
        jobs.append(SlurmJob(job, user, state.lower(), nodes))
    return jobs
