"""Running work on many hosts at once, with bounded concurrency, deadlines and events.

Every host ends as exactly one of ok / failed / unreachable / timed_out. A host that hangs,
black-holes packets or refuses us never holds up the others: each piece of work has its own
connect and command timeouts, and a whole-run deadline stops waiting for stragglers.
The engine emits events (host started, host finished); displays and tests subscribe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from dcctl.errors import DcctlError
from dcctl.transport.base import AuthError, CommandTimeout, HostKeyError, UnreachableError

T = TypeVar("T")


class HostStatus(StrEnum):
    """How one host's work ended."""

    ok = "ok"
    failed = "failed"
    unreachable = "unreachable"
    timed_out = "timed_out"
    not_started = "not_started"  # the deadline passed before its turn came


@dataclass(frozen=True)
class HostOutcome(Generic[T]):
    """One host's end state, its (possibly partial) result, and why it is not ok."""

    host: str
    status: HostStatus
    value: T | None
    error: str | None
    duration_s: float


@dataclass(frozen=True)
class HostStarted:
    """Work on a host began."""

    host: str


@dataclass(frozen=True)
class HostFinished(Generic[T]):
    """Work on a host ended."""

    outcome: HostOutcome[T]


Event = HostStarted | HostFinished[Any]
Listener = Callable[[Event], None]


def classify(exc: BaseException) -> HostStatus:
    """Map an exception from a transport to a host status."""
    if isinstance(exc, UnreachableError):
        return HostStatus.unreachable
    if isinstance(exc, CommandTimeout):
        return HostStatus.timed_out
    if isinstance(exc, AuthError | HostKeyError):
        return HostStatus.failed
    return HostStatus.failed


def fan_out(
    hosts: Sequence[str],
    work: Callable[[str], T],
    *,
    forks: int = 64,
    status_of: Callable[[T], HostStatus] | None = None,
    error_of: Callable[[T], str | None] | None = None,
    deadline_s: float | None = None,
    listener: Listener | None = None,
) -> list[HostOutcome[T]]:
    """Run ``work(host)`` for every host, at most ``forks`` at a time; outcomes in host order.

    ``status_of`` lets a result carry its own status (a partial result that timed out);
    exceptions are classified by :func:`classify`; past ``deadline_s`` the hosts still running
    end as timed_out without their result, and those whose turn never came as not_started.
    Threads still running then are left behind (their sockets have timeouts of their own); a
    command-line caller exits without waiting for them.
    """
    lock = threading.Lock()

    def emit(event: Event) -> None:
        if listener is not None:
            with lock:
                listener(event)

    def one(host: str) -> HostOutcome[T]:
        emit(HostStarted(host))
        start = time.monotonic()
        try:
            value = work(host)
        except Exception as exc:  # a failed host never stops the others
            outcome: HostOutcome[T] = HostOutcome(
                host, classify(exc), None, _describe(exc), time.monotonic() - start
            )
        else:
            status = status_of(value) if status_of else HostStatus.ok
            error = error_of(value) if error_of else None
            outcome = HostOutcome(host, status, value, error, time.monotonic() - start)
        emit(HostFinished(outcome))
        return outcome

    outcomes: dict[str, HostOutcome[T]] = {}
    if not hosts:
        return []
    start = time.monotonic()
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(forks, len(hosts))), thread_name_prefix="dcctl"
    )
    try:
        futures: dict[Future[HostOutcome[T]], str] = {pool.submit(one, h): h for h in hosts}
        pending = set(futures)
        while pending:
            left = None if deadline_s is None else deadline_s - (time.monotonic() - start)
            if left is not None and left <= 0:
                break
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for future in done:
                outcomes[futures[future]] = future.result()
        for future in pending:
            host = futures[future]
            if future.cancel():  # never started: it had no chance to run
                status, why = (
                    HostStatus.not_started,
                    f"not started before the {deadline_s:g} s deadline",
                )
            else:
                status, why = (
                    HostStatus.timed_out,
                    f"still running at the {deadline_s:g} s deadline",
                )
            outcome: HostOutcome[T] = HostOutcome(host, status, None, why, time.monotonic() - start)
            outcomes[host] = outcome
            emit(HostFinished(outcome))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [outcomes[h] for h in hosts]


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, DcctlError) else f"{type(exc).__name__}: {text}"
