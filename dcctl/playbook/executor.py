"""The executor: the only code that runs commands meant to change a host.

It applies a Plan in batches (``--batch-by rack|pdu|nvlink_domain|N|N%``; never two hosts of one
failure domain at once when batching by domain), verifies every change by reading the state
back, stops when more than ``max_fail_percent`` of the hosts failed or when the health gate (a
re-plan of the batch must show nothing left to change) fails, holds a lock so that two applies
cannot run on one inventory, and journals every host's progress so ``--resume`` continues only
the hosts that did not finish.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcctl.errors import InputError, LockedError
from dcctl.inventory.model import Inventory
from dcctl.playbook.model import HostPlan, Plan
from dcctl.playbook.planner import become, host_resources, plan_host
from dcctl.playbook.resources.base import Resource
from dcctl.playbook.schema import Playbook
from dcctl.transport.base import Transport
from dcctl.transport.fanout import fan_out

DOMAIN_KINDS = {"rack": "rack", "pdu": "pdu", "nvlink_domain": "nvlink"}


@dataclass
class HostResult:
    """How applying to one host ended."""

    host: str
    status: str  # done, failed, skipped, not_started
    applied: int = 0
    error: str | None = None


@dataclass
class ApplyResult:
    """The outcome of an apply run."""

    run_id: str
    hosts: list[HostResult] = field(default_factory=list)
    stopped: str | None = None  # why the rollout stopped early

    @property
    def failed(self) -> list[HostResult]:
        """Hosts that failed."""
        return [h for h in self.hosts if h.status == "failed"]


class Journal:
    """``.dcctl/runs/<id>.jsonl``: one JSON event per line, secrets already masked."""

    def __init__(self, directory: Path, run_id: str) -> None:
        """Open (append) the run's journal."""
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{run_id}.jsonl"

    def write(self, event: str, host: str | None = None, **data: Any) -> None:
        """Append one event."""
        record = {"time": round(time.time(), 3), "event": event, "host": host, **data}
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    def finished_hosts(self) -> set[str]:
        """Hosts whose apply completed in this run."""
        done = set()
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                record = json.loads(line)
                if record["event"] == "host_done":
                    done.add(record["host"])
        return done


@contextmanager
def inventory_lock(directory: Path, inventory_files: Sequence[str]) -> Iterator[None]:
    """An exclusive lock per inventory (by its root file), released on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(os.path.abspath(inventory_files[0]).encode()).hexdigest()[:16]
    path = directory / f"{key}.lock"
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another dcctl apply"
            raise LockedError(f"the inventory is locked by {holder} ({path})") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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
    journal: Journal,
) -> HostResult:
    """Apply a host's changes in order, each re-read just before it runs.

    Two resources may touch one file (a line added, another removed): each is planned again
    against the state its predecessors left, so no change undoes another.
    """
    result = HostResult(plan.host, "done")
    journal.write("host_start", plan.host, changes=len(plan.changes))
    try:
        transport.connect()
        for resource, outcome in zip(resources, plan.outcomes, strict=True):
            if outcome.change is None:
                continue
            fresh = plan_host(transport, [resource], how)
            if fresh.error:
                raise RuntimeError(fresh.error)
            change = fresh.outcomes[0].change
            if change is None:
                continue
            for command in change.commands:
                run = transport.run(become(command, how), timeout=120)
                if run.rc != 0:
                    detail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
                    raise RuntimeError(
                        f"{change.shown(change.resource)}: {change.shown(command.display())} "
                        f"failed (rc={run.rc}): {change.shown(detail[0])}"
                    )
            if getattr(resource, "verifiable", True):
                check = plan_host(transport, [resource], how)
                if check.error or check.outcomes[0].change is not None:
                    raise RuntimeError(
                        f"{change.shown(change.resource)}: still differs after applying "
                        f"({check.error or 'read back'})"
                    )
            result.applied += 1
            journal.write("change_applied", plan.host, **change.to_dict())
    except Exception as exc:
        result.status, result.error = "failed", str(exc)
        journal.write("host_failed", plan.host, error=result.error)
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
        if o.change is not None and getattr(r, "verifiable", True)
    ]
    return f"still differs after apply: {', '.join(left)}" if left else None


def apply_plan(
    plan: Plan,
    playbook: Playbook,
    inventory: Inventory,
    transport_for: Callable[[str], Transport],
    *,
    state_dir: Path,
    run_id: str | None = None,
    batch_by: str | None = None,
    max_fail_percent: float = 0.0,
    forks: int = 64,
    skip: set[str] | None = None,
    health: Callable[[list[str]], dict[str, set[str]]] | None = None,
) -> ApplyResult:
    """Apply a plan (see the module docstring); returns every host's result.

    ``health`` is the gate between batches: it returns, per host, the problems a probe sees
    (finding codes, or "unreachable"); a problem a host did not have before its batch is a
    regression, and the rollout stops there.
    """
    run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    journal = Journal(state_dir / "runs", run_id)
    result = ApplyResult(run_id)
    skip = skip or set()
    by_host = {h.host: h for h in plan.hosts}
    todo = [h.host for h in plan.hosts if h.changes and not h.error and h.host not in skip]
    for h in plan.hosts:
        if h.host in skip:
            result.hosts.append(
                HostResult(h.host, "skipped", error="finished in an earlier attempt")
            )
        elif h.error:
            result.hosts.append(HostResult(h.host, "failed", error=h.error))
        elif not h.changes:
            result.hosts.append(HostResult(h.host, "done"))
            journal.write("host_done", h.host, changes=0)
    with inventory_lock(state_dir / "locks", inventory.files):
        journal.write("run_start", playbook=playbook.name, hosts=todo)
        planned = batches(todo, inventory, batch_by)
        total = len(todo)
        for number, batch in enumerate(planned, 1):

            def work(host: str) -> HostResult:
                transport = transport_for(host)
                try:
                    resources = host_resources(playbook, inventory, host)
                    outcome = apply_host(
                        transport, resources, by_host[host], playbook.become, journal
                    )
                finally:
                    transport.close()
                if outcome.status == "done":
                    problem = verify(playbook, inventory, transport_for, host)
                    if problem is not None:
                        outcome.status, outcome.error = "failed", problem
                        journal.write("host_failed", host, error=problem)
                    else:
                        journal.write("host_done", host, changes=outcome.applied)
                return outcome

            before = health(batch) if health is not None else {}
            outcomes = fan_out(batch, work, forks=forks)
            for o in outcomes:
                result.hosts.append(o.value or HostResult(o.host, "failed", error=o.error))
            if health is not None:
                after = health(batch)
                new = {
                    h: sorted(after.get(h, set()) - before.get(h, set()))
                    for h in batch
                    if after.get(h, set()) - before.get(h, set())
                }
                if new:
                    worst = "; ".join(
                        f"{h}: {', '.join(codes)}" for h, codes in sorted(new.items())
                    )
                    rest = [h for b in planned[number:] for h in b]
                    result.hosts += [HostResult(h, "not_started") for h in rest]
                    result.stopped = f"health gate after batch {number}: new problems: {worst}"
                    journal.write("run_stopped", reason=result.stopped)
                    break
            failed = len([h for h in result.hosts if h.status == "failed" and h.host in todo])
            if total and 100.0 * failed / total > max_fail_percent:
                rest = [h for b in planned[number:] for h in b]
                result.hosts += [HostResult(h, "not_started") for h in rest]
                result.stopped = (
                    f"stopped after batch {number}/{len(planned)}: {failed} of {total} hosts "
                    f"failed (more than --max-fail-percent {max_fail_percent:g})"
                )
                journal.write("run_stopped", reason=result.stopped)
                break
        journal.write("run_end", failed=len(result.failed))
    order = {h.host: i for i, h in enumerate(plan.hosts)}
    result.hosts.sort(key=lambda h: order.get(h.host, 0))
    return result


def resume_skip(state_dir: Path, run_id: str) -> set[str]:
    """Hosts a journalled run already finished; raises InputError for an unknown run."""
    journal = Journal(state_dir / "runs", run_id)
    if not journal.path.exists():
        raise InputError(f"no run '{run_id}' in {state_dir / 'runs'}")
    return journal.finished_hosts()
