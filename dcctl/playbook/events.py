"""The rollout as a stream of events, and the handlers that subscribe to it.

The executor only batches, runs and decides; what else happens during a rollout listens to its
events: the journal (:class:`JournalHandler`), the health gate (:class:`HealthGate`), a progress
bar (the CLI's). A handler may answer an event with a reason to stop the rollout (the health
gate does after a batch); the executor then stops as it would on failures. Adding a step to a
rollout (draining hosts in Slurm before a batch, resuming them after) is one more handler.

Handlers are called synchronously, in order, from the thread that emits (host events come from
the fan-out's worker threads): a handler that raises (the journal on a full disk) fails what
emitted, exactly as a direct call would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from dcctl.playbook.journal import Journal


@dataclass(frozen=True)
class RunStarted:
    """The rollout begins: the hosts it will change, and what it was made from.

    ``finished`` are hosts an earlier attempt of this run (``--resume``) already finished.
    """

    playbook: str
    hosts: list[str]
    digests: dict[str, str]
    run_id: str = ""
    finished: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BatchStarted:
    """A batch is about to start (``stopping`` when Ctrl-C came before it).

    A handler may hold hosts back from this batch (``held[host] = why``: their jobs did not
    drain in time): they are not applied and end ``held`` (``--resume`` tries them again). A
    handler that answers with a reason stops the rollout before the batch runs.
    """

    number: int
    total: int
    hosts: list[str]
    stopping: bool = False
    held: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostStarted:
    """Work on a host begins."""

    host: str
    changes: int


@dataclass(frozen=True)
class ChangeApplied:
    """One change ran and (where it can be) was verified; ``change`` is masked JSON."""

    host: str
    change: dict[str, Any]


@dataclass(frozen=True)
class ChangeStale:
    """A change was not applied: the host no longer matches the plan that was shown."""

    host: str
    resource: str


@dataclass(frozen=True)
class HostFinished:
    """A host ended: done, failed, stale, interrupted or not started."""

    host: str
    status: str
    applied: int = 0
    error: str | None = None


@dataclass(frozen=True)
class BatchFinished:
    """Every host of a batch ended."""

    number: int
    total: int
    hosts: list[str]
    statuses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchSettled:
    """After BatchFinished was answered: whether the rollout goes on (``stopping`` None).

    What a step that undoes its own preparation needs (resume in Slurm only the hosts that are
    done and passed the health gate).
    """

    number: int
    total: int
    statuses: dict[str, str]
    stopping: str | None = None


@dataclass(frozen=True)
class RolloutStopped:
    """The rollout stops early (a gate, failures, Ctrl-C): the rest is not started."""

    reason: str
    interrupted: bool = False
    statuses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFinished:
    """The rollout is over."""

    failed: int
    stopped: str | None


Event = (
    RunStarted | BatchStarted | HostStarted | ChangeApplied | ChangeStale | HostFinished
    | BatchFinished | BatchSettled | RolloutStopped | RunFinished
)  # fmt: skip


class Handler(Protocol):
    """Called with every event; returns a reason to stop the rollout, or None."""

    def __call__(self, event: Event) -> str | None:
        """React to one event."""


@runtime_checkable
class JournalledHandler(Handler, Protocol):
    """A handler that also writes its own events to the run's journal (bound at the start)."""

    def bind(self, journal: Journal) -> None:
        """Receive the run's journal before the first event."""


class Bus:
    """Handlers in order; :meth:`emit` calls each and returns the first reason to stop."""

    def __init__(self, handlers: Iterable[Handler] = ()) -> None:
        """Subscribe ``handlers`` (order kept)."""
        self.handlers: list[Handler] = list(handlers)

    def emit(self, event: Event) -> str | None:
        """Deliver ``event`` to every handler; the first non-None answer is returned."""
        reason = None
        for handler in self.handlers:
            answer = handler(event)
            if reason is None and answer:
                reason = answer
        return reason


class JournalHandler:
    """Writes the events a resume and an audit need to the run's journal (masked)."""

    def __init__(self, journal: Journal) -> None:
        """Write to ``journal``."""
        self.journal = journal

    def __call__(self, event: Event) -> str | None:
        """One journal line per event (``host_done`` is what ``--resume`` counts)."""
        write = self.journal.write
        if isinstance(event, RunStarted):
            write("run_start", playbook=event.playbook, hosts=event.hosts, **event.digests)
        elif isinstance(event, BatchStarted):
            write("batch_start", number=event.number, of=event.total, hosts=event.hosts)
        elif isinstance(event, HostStarted):
            write("host_start", event.host, changes=event.changes)
        elif isinstance(event, ChangeApplied):
            write("change_applied", event.host, **event.change)
        elif isinstance(event, ChangeStale):
            write("change_stale", event.host, resource=event.resource)
        elif isinstance(event, HostFinished):
            if event.status == "done":
                write("host_done", event.host, changes=event.applied)
            elif event.status in ("interrupted", "not_started"):
                write("host_interrupted", event.host, applied=event.applied)
            elif event.status in ("failed", "stale", "held"):
                write(f"host_{event.status}", event.host, error=event.error)
        elif isinstance(event, BatchFinished):
            write("batch_end", number=event.number, of=event.total, hosts=event.statuses)
        elif isinstance(event, RolloutStopped):
            if event.interrupted:
                write("run_interrupted", reason=event.reason, hosts=event.statuses)
            else:
                write("run_stopped", reason=event.reason)
        elif isinstance(event, RunFinished):
            write("run_end", failed=event.failed, stopped=event.stopped)
        return None


#: Per host, the problems a quick probe sees (finding codes, or a status such as unreachable).
HealthProbe = Callable[[Sequence[str]], dict[str, set[str]]]


class HealthGate:
    """Probes each batch before and after it; a problem a host did not have before stops it."""

    def __init__(self, probe: HealthProbe) -> None:
        """Gate with ``probe``."""
        self.probe = probe
        self.before: dict[str, set[str]] = {}

    def __call__(self, event: Event) -> str | None:
        """Probe at BatchStarted; at BatchFinished, the new problems, if any, stop the rollout."""
        if isinstance(event, BatchStarted):
            self.before = {} if event.stopping else self.probe(event.hosts)
        elif isinstance(event, BatchFinished):
            after = self.probe(event.hosts)
            new = {
                h: sorted(after.get(h, set()) - self.before.get(h, set()))
                for h in event.hosts
                if after.get(h, set()) - self.before.get(h, set())
            }
            if new:
                worst = "; ".join(f"{h}: {', '.join(codes)}" for h, codes in sorted(new.items()))
                return f"health gate after batch {event.number}: new problems: {worst}"
        return None
