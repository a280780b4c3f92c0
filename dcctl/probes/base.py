"""What a probe is: the commands it runs (steps), and a pure parser of their outputs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: Exit statuses of coreutils' ``timeout``: 124 when it stopped the command, 137 after -k.
TIMEOUT_RCS = (124, 137)


@dataclass(frozen=True)
class Step:
    """One read-only command of a probe.

    ``key`` files its output (and names its bundle file); ``recognise`` matches the ``$ ``
    line of a bundle file made by another tool (quoting may be lost there); ``fallback_for``
    names a step this one replaces when that step fails (``nvidia-smi -q -x`` when the CSV
    query fails); ``guarded`` steps may hang (nvidia-smi with a wedged driver, df on a dead NFS
    mount) and run under the host's ``timeout -k`` with ``timeout`` seconds; steps of one
    ``group`` run one after another (the nvidia-smi calls, which the driver serialises anyway).
    """

    key: str
    shell: str
    recognise: re.Pattern[str]
    timeout: float = 20.0
    fallback_for: str | None = None
    guarded: bool = False
    group: str | None = None


@dataclass(frozen=True)
class Output:
    """What one step printed (stdout and stderr together) and its exit status."""

    command: str
    text: str
    rc: int | None

    @property
    def ok(self) -> bool:
        """Exit status 0."""
        return self.rc == 0

    @property
    def timed_out(self) -> bool:
        """The host's ``timeout`` stopped it (or it never finished)."""
        return self.rc is None or self.rc in TIMEOUT_RCS

    @property
    def missing_tool(self) -> bool:
        """The command does not exist on the host."""
        return self.rc == 127 or "command not found" in self.text[:300]


Outputs = Mapping[str, Output]


class Probe(Protocol):
    """A probe: a name, its steps, a parser from their outputs to a typed result, a summary."""

    name: str
    steps: tuple[Step, ...]

    def parse(self, outputs: Outputs) -> Any:
        """Parse outputs (keyed by step key) into the probe's typed result."""

    def summarize(self, result: Any) -> str:
        """One line describing a result, so that hosts with identical lines fold together."""


_REGISTERED: dict[str, tuple[int, Probe]] = {}
_ORDERED: dict[str, Probe] | None = None


def register(probe: Probe, *, order: int) -> Probe:
    """Declare a probe (once, in its own module); ``order`` places it in scripts and output.

    A second probe with the same name is a programming error, raised at import.
    """
    global _ORDERED
    if probe.name in _REGISTERED:
        raise ValueError(f"probe '{probe.name}' is registered twice")
    _REGISTERED[probe.name] = (order, probe)
    _ORDERED = None
    return probe


def registered() -> dict[str, Probe]:
    """Every registered probe by name, in their declared order (a live view: do not modify)."""
    global _ORDERED
    if _ORDERED is None:
        ranked = sorted(_REGISTERED.values(), key=lambda item: item[0])
        _ORDERED = {probe.name: probe for _, probe in ranked}
    return _ORDERED


def recogniser(pattern: str) -> re.Pattern[str]:
    """Compile a bundle-line recogniser (matched against the command after ``$ ``)."""
    return re.compile(pattern)
