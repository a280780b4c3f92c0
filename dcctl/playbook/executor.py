"""The executor: the only code that runs commands meant to change a host.

It applies a Plan in batches (``--batch-by rack|pdu|nvlink_domain|N|N%``; never two hosts of one
failure domain at once when batching by domain), verifies every change by reading the state
back, stops when more than ``max_fail_percent`` of the hosts failed or when the health gate (a
re-plan of the batch must show nothing left to change) fails, holds a lock so that two applies
cannot run on one inventory, and journals every host's progress so ``--resume`` continues only
the hosts that did not finish.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dcctl.errors import InputError
from dcctl.inventory.model import Inventory
from dcctl.model.command import CommandResult
from dcctl.playbook.events import (
    BatchFinished,
    BatchSettled,
    BatchStarted,
    Bus,
    ChangeApplied,
    ChangeStale,
    Event,
    Handler,
    HealthGate,
    HealthProbe,
    HostFinished,
    HostStarted,
    JournalHandler,
    JournalledHandler,
    RolloutStopped,
    RunFinished,
    RunStarted,
)
from dcctl.playbook.journal import Journal, JournalError, digest_files, new_run_id
from dcctl.playbook.lock import inventory_lock
from dcctl.playbook.model import HostPlan, Plan
from dcctl.playbook.planner import ResourceMemo, become, host_resources, plan_host
from dcctl.playbook.resources.base import Resource
from dcctl.playbook.schema import Playbook
from dcctl.transport.base import Transport
from dcctl.transport.fanout import fan_out

#: Longest a single change's command may run on a host.
CHANGE_TIMEOUT_S = 120.0


def _failure(run: CommandResult) -> str:
    """``failed with exit status 1: <last line>`` or ``timed out after 120 s (no output)``."""
    lines = (run.stderr or run.stdout).strip().splitlines()
    detail = lines[-1].strip() if lines else "no output"
    if run.rc is None or run.timed_out:
        return f"timed out after {CHANGE_TIMEOUT_S:g} s ({detail})"
    return f"failed with exit status {run.rc}: {detail}"


DOMAIN_KINDS = {"rack": "rack", "pdu": "pdu", "nvlink_domain": "nvlink"}


@dataclass
class HostResult:
    """How applying to one host ended."""

    host: str
    status: str  # done, failed, stale, held, skipped, not_started, interrupted
    applied: int = 0
    error: str | None = None
    stale: list[str] = field(default_factory=list)  # changes not applied: the host moved on


@dataclass
class ApplyResult:
    """The outcome of an apply run."""

    run_id: str
    hosts: list[HostResult] = field(default_factory=list)
    stopped: str | None = None  # why the rollout stopped early
    interrupted: bool = False  # stopped by the caller (Ctrl-C)

    @property
    def failed(self) -> list[HostResult]:
        """Hosts that failed."""
        return [h for h in self.hosts if h.status == "failed"]

    @property
    def unfinished(self) -> list[HostResult]:
        """Hosts not applied to the end: failed, stale, held, interrupted, or never started."""
        return [
            h
            for h in self.hosts
            if h.status in ("failed", "stale", "held", "interrupted", "not_started")
        ]


def batches(hosts: Sequence[str], inventory: Inventory, batch_by: str | None) -> list[list[str]]:
    """Split hosts into rollout batches.

    ``rack``/``pdu``/``nvlink_domain``: each batch takes at most one host per domain;
    ``N``: N hosts per batch; ``N%``: that share of the hosts per batch; None: all at once.
    """
    hosts = list(hosts)
    if not hosts:
        return []
    if batch_by is None:
        return [hosts]
    if batch_by in DOMAIN_KINDS:
        kind = DOMAIN_KINDS[batch_by]
        queues: dict[str, list[str]] = {}
        for host in hosts:
            h = inventory.hosts[host]
            if kind == "rack":
                domain = h.rack or f"(host {host})"
            elif kind == "pdu":
                domain = ",".join(h.pdus) or f"(host {host})"
            else:
                domain = h.domains.get(kind) or f"(host {host})"
            queues.setdefault(domain, []).append(host)
        out = []
        while any(queues.values()):
            out.append([q.pop(0) for q in queues.values() if q])
        return out
    size_text = batch_by.rstrip("%")
    try:
        size = float(size_text)
    except ValueError:
        raise InputError(
            f"--batch-by '{batch_by}': use rack, pdu, nvlink_domain, a number or a percentage"
        ) from None
    per = math.ceil(len(hosts) * size / 100) if batch_by.endswith("%") else int(size)
    if per < 1:
        raise InputError(f"--batch-by '{batch_by}' gives empty batches")
    return [hosts[i : i + per] for i in range(0, len(hosts), per)]


def apply_host(
    transport: Transport,
    resources: Sequence[Resource],
    plan: HostPlan,
    how: str | None,
    emit: Callable[[Event], object],
    stop: threading.Event | None = None,
) -> HostResult:
    """Apply a host's changes in order, each re-read just before it runs.

    First the host is read once and each planned change compared with what it would be now:
    one that differs is stale (the host moved on since the plan was shown) and is not applied.
    Two resources may touch one file (a line added, another removed): each is planned again
    against the state its predecessors left, so no change undoes another. Once ``stop`` is set
    no further change starts: the host ends ``interrupted`` (or ``not_started``).
    """
    result = HostResult(plan.host, "done")
    try:
        emit(HostStarted(plan.host, len(plan.changes)))
        transport.connect()
        now = plan_host(transport, resources, how)  # the plan shown is the plan that runs
        if now.error:
            raise RuntimeError(now.error)
        for resource, outcome, current in zip(resources, plan.outcomes, now.outcomes,
                                              strict=True):  # fmt: skip
            if outcome.change is None or current.change is None:
                continue
            if current.change.fingerprint() != outcome.change.fingerprint():
                label = outcome.change.shown(outcome.change.resource)
                result.stale.append(label)
                emit(ChangeStale(plan.host, label))
                continue
            if stop is not None and stop.is_set():
                result.status = "interrupted" if result.applied else "not_started"
                result.error = "stopped before its next change (interrupted)"
                return result
            fresh = plan_host(transport, [resource], how)
            if fresh.error:
                raise RuntimeError(fresh.error)
            change = fresh.outcomes[0].change
            if change is None:
                continue
            for command in change.commands:
                run = transport.run(become(command, how), timeout=CHANGE_TIMEOUT_S)
                if run.rc != 0:
                    raise RuntimeError(
                        f"{change.shown(change.resource)}: {change.shown(command.display())} "
                        f"{change.shown(_failure(run))}"
                    )
            if resource.verifiable:
                check = plan_host(transport, [resource], how)
                if check.error or check.outcomes[0].change is not None:
                    raise RuntimeError(
                        f"{change.shown(change.resource)}: still differs after applying "
                        f"({check.error or 'read back'})"
                    )
            result.applied += 1
            emit(ChangeApplied(plan.host, change.to_dict()))
        if result.stale:
            result.status = "stale"
            result.error = (
                f"{len(result.stale)} change(s) not applied: the host changed since the plan "
                f"was made ({', '.join(result.stale)})"
            )
    except Exception as exc:  # a journal that cannot be written fails the host the same way
        result.status, result.error = "failed", str(exc)
    return result


def verify(
    playbook: Playbook, inventory: Inventory, transport_for: Callable[[str], Transport], host: str
) -> str | None:
    """Re-plan a host: None when nothing is left to change, else what is."""
    transport = transport_for(host)
    try:
        again = plan_host(transport, host_resources(playbook, inventory, host), playbook.become)
    finally:
        transport.close()
    if again.error:
        return again.error
    resources = host_resources(playbook, inventory, host)
    left = [
        o.change.shown(o.change.resource)
        for r, o in zip(resources, again.outcomes, strict=True)
        if o.change is not None and r.verifiable
    ]
    return f"still differs after apply: {', '.join(left)}" if left else None


@dataclass(frozen=True)
class RolloutOptions:
    """How to roll a plan out: batches, failure budget, concurrency, and where state lives."""

    state_dir: Path
    run_id: str | None = None  # continue this run (its finished hosts are skipped)
    batch_by: str | None = None
    max_fail_percent: float = 0.0
    forks: int = 64


def run_digests(playbook: Playbook, inventory: Inventory) -> dict[str, str]:
    """What a run was made from: the playbook's and the inventory's files, hashed."""
    return {
        "playbook_sha256": digest_files([playbook.file]) if playbook.file else "",
        "inventory_sha256": digest_files(inventory.files),
    }


def apply_plan(
    plan: Plan,
    playbook: Playbook,
    inventory: Inventory,
    transport_for: Callable[[str], Transport],
    options: RolloutOptions,
    *,
    skip: set[str] | None = None,
    health: HealthProbe | None = None,
    stop: threading.Event | None = None,
    handlers: Sequence[Handler] = (),
) -> ApplyResult:
    """Apply a plan (see the module docstring); returns every host's result.

    The rollout is a stream of events (:mod:`dcctl.playbook.events`): the journal and
    ``handlers`` (a progress bar, drain/resume steps) subscribe to it, and any handler may stop
    it after a batch. ``health`` is shorthand for a :class:`HealthGate`: per host, the problems
    a probe sees; one a host did not have before its batch stops the rollout there. ``stop``
    (set on Ctrl-C) starts no new host and no new change; changes in flight finish, every host
    is classified, then the lock is released. A journal that cannot be written stops the run
    the same way.
    """
    run_id = options.run_id or new_run_id()
    journal = Journal(options.state_dir / "runs", run_id, plan.secrets | playbook.secret_values)
    gate = [HealthGate(health)] if health is not None else []
    for handler in handlers:
        if isinstance(handler, JournalledHandler):
            handler.bind(journal)
    bus = Bus([JournalHandler(journal), *handlers, *gate])
    result = ApplyResult(run_id)
    skip = skip or set()
    stop = stop or threading.Event()
    by_host = {h.host: h for h in plan.hosts}
    todo = [h.host for h in plan.hosts if h.changes and not h.error and h.host not in skip]
    with inventory_lock(options.state_dir / "locks", inventory.files):
        try:
            bus.emit(RunStarted(playbook.name, todo, run_digests(playbook, inventory), run_id,
                                frozenset(skip)))  # fmt: skip
            for h in plan.hosts:
                if h.host in skip:
                    result.hosts.append(
                        HostResult(h.host, "skipped", error="finished in an earlier attempt")
                    )
                elif h.error:
                    result.hosts.append(HostResult(h.host, "failed", error=h.error))
                elif not h.changes:
                    result.hosts.append(HostResult(h.host, "done"))
                    bus.emit(HostFinished(h.host, "done"))
            rollout = _Rollout(plan, playbook, inventory, transport_for, options, by_host,
                               journal, bus, result, stop)  # fmt: skip
            rollout.run(todo)
            bus.emit(RunFinished(len(result.failed), result.stopped))
        except JournalError as exc:
            result.stopped = f"stopped: {exc}"
            done = {h.host for h in result.hosts}
            result.hosts += [
                HostResult(h, "not_started", error="the journal could not be written")
                for h in todo
                if h not in done
            ]
    order = {h.host: i for i, h in enumerate(plan.hosts)}
    result.hosts.sort(key=lambda h: order.get(h.host, 0))
    return result


@dataclass
class _Rollout:
    """Batch → run → gate, emitting the events handlers act on."""

    plan: Plan
    playbook: Playbook
    inventory: Inventory
    transport_for: Callable[[str], Transport]
    options: RolloutOptions
    by_host: dict[str, HostPlan]
    journal: Journal
    bus: Bus
    result: ApplyResult
    stop: threading.Event

    def __post_init__(self) -> None:
        self.memo = ResourceMemo(self.playbook, self.inventory)

    def run(self, todo: list[str]) -> None:
        """Batch after batch; stops on Ctrl-C, a journal failure, a handler or failures."""
        planned = batches(todo, self.inventory, self.options.batch_by)
        for number, batch in enumerate(planned, 1):
            rest = [h for b in planned[number:] for h in b]
            started = BatchStarted(number, len(planned), batch, self.stop.is_set())
            reason = self.bus.emit(started)
            if reason is not None:
                interrupted = self.stop.is_set()
                self.result.interrupted = interrupted
                why = "interrupted" if interrupted else None
                self.result.hosts += [HostResult(h, "not_started", error=why)
                                      for h in batch + rest]  # fmt: skip
                self._stopped(reason, interrupted)
                return
            for h, why in started.held.items():
                self.result.hosts.append(HostResult(h, "held", error=why))
                self.bus.emit(HostFinished(h, "held", 0, why))
            run_now = [h for h in batch if h not in started.held]
            outcomes = fan_out(run_now, self.host, forks=self.options.forks)
            for o in outcomes:
                self.result.hosts.append(o.value or HostResult(o.host, "failed", error=o.error))
            if self.journal.failure is not None:
                raise JournalError(self.journal.failure)
            if self.stop.is_set():
                self.result.interrupted = True
                self.result.hosts += [HostResult(h, "not_started", error="interrupted")
                                      for h in rest]  # fmt: skip
                self._stopped(f"interrupted during batch {number}/{len(planned)}", True)
                return
            statuses = {h.host: h.status for h in self.result.hosts if h.host in batch}
            reason = self.bus.emit(BatchFinished(number, len(planned), batch, statuses))
            if reason is None:
                reason = self._over_budget(todo, number, len(planned))
            self.bus.emit(BatchSettled(number, len(planned), statuses, reason))
            if reason is not None:
                self.result.hosts += [HostResult(h, "not_started") for h in rest]
                self._stopped(reason, False)
                return

    def host(self, host: str) -> HostResult:
        """Apply to one host, verify it, and say how it ended."""
        if self.stop.is_set() or self.journal.failure is not None:
            return HostResult(host, "not_started", error=_why_stopped(self.stop, self.journal))
        transport = self.transport_for(host)
        try:
            outcome = apply_host(transport, self.memo.resources(host), self.by_host[host],
                                 self.playbook.become, self.bus.emit, self.stop)  # fmt: skip
        finally:
            transport.close()
        if outcome.status == "done":
            problem = verify(self.playbook, self.inventory, self.transport_for, host)
            if problem is not None:
                outcome.status, outcome.error = "failed", problem
        self.bus.emit(HostFinished(host, outcome.status, outcome.applied, outcome.error))
        return outcome

    def _over_budget(self, todo: list[str], number: int, batches_total: int) -> str | None:
        failed = len([h for h in self.result.hosts if h.status == "failed" and h.host in todo])
        if todo and 100.0 * failed / len(todo) > self.options.max_fail_percent:
            return (
                f"stopped after batch {number}/{batches_total}: {failed} of {len(todo)} hosts "
                f"failed (more than --max-fail-percent {self.options.max_fail_percent:g})"
            )
        return None

    def _stopped(self, reason: str, interrupted: bool) -> None:
        self.result.stopped = reason
        statuses = {h.host: h.status for h in self.result.hosts if h.host in self.by_host}
        self.bus.emit(RolloutStopped(reason, interrupted, statuses))


def _why_stopped(stop: threading.Event, journal: Journal) -> str:
    if journal.failure is not None:
        return f"not started: {journal.failure}"
    return "not started (interrupted)"


def resume_skip(
    state_dir: Path, run_id: str, playbook: Playbook, inventory: Inventory
) -> tuple[set[str], list[str]]:
    """Hosts a journalled run already finished, and warnings about its journal.

    Refuses (InputError) an unknown run, or a run made from another playbook or inventory
    than the ones given now: resuming must not mix two runs' changes. A corrupt or truncated
    line is skipped with a warning naming it; every good event before and after it counts.
    """
    journal = Journal(state_dir / "runs", run_id)
    if not journal.path.exists():
        raise InputError(f"--resume: no run '{run_id}' in {state_dir / 'runs'}")
    read = journal.read()
    warnings = [
        f"{journal.path}:{number}: skipped a corrupt journal line ({why})"
        for number, why in read.bad_lines
    ]
    start = read.start
    if start is None:
        if read.events:
            raise InputError(
                f"--resume {run_id}: its journal has no readable start ({journal.path})"
            )
        warnings.append(f"{journal.path}: the run recorded nothing (no host was started)")
        return set(), warnings
    now = run_digests(playbook, inventory)
    for key, what in (("playbook_sha256", "playbook"), ("inventory_sha256", "inventory")):
        if start.get(key) and start[key] != now[key]:
            raise InputError(
                f"--resume {run_id}: that run applied another {what} than the one given now "
                f"({what} changed since, or a different file); start a new run instead"
            )
    return read.finished_hosts, warnings
