"""Probing one host: run every selected probe in one round trip, parse, report.

``probe_host`` reads a live host through a transport; ``analyze_outputs`` turns outputs (live
or from a bundle) into a report. Both produce the same :class:`HostReport`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dcctl.model.command import Command
from dcctl.probes.base import Output, Probe, Step
from dcctl.probes.script import build_script, parse_framed
from dcctl.transport.base import Transport
from dcctl.transport.fanout import HostStatus

#: Extra seconds the whole script may take beyond its slowest command.
SCRIPT_MARGIN_S = 10.0


@dataclass
class HostReport:
    """One host's probe results, raw outputs, errors and timings."""

    host: str
    status: HostStatus = HostStatus.ok
    results: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    findings: list[Any] = field(default_factory=list)
    #: Probes whose answer is not known, and why: a command that never reported back, timed
    #: out on the host, or is not installed. Unknown is neither healthy nor unhealthy.
    unknown: dict[str, str] = field(default_factory=dict)


def steps_of(probes: Sequence[Probe]) -> list[Step]:
    """Every step of the given probes, in order."""
    return [step for probe in probes for step in probe.steps]


def analyze_outputs(
    host: str, outputs: Mapping[str, Output], probes: Sequence[Probe], *, live: bool = False
) -> HostReport:
    """Parse outputs into a report; a parser that fails is an error, not a crash.

    ``live``: the outputs answer a script that ran every step, so a step whose output is
    missing (its frame never arrived) or timed out makes its probe unknown, with the reason.
    """
    report = HostReport(host, outputs=dict(outputs))
    for probe in probes:
        keys = [s.key for s in probe.steps]
        why = _unknown_reason(probe, outputs) if live else None
        if why is not None:
            report.unknown[probe.name] = why
        if not any(k in outputs for k in keys):
            report.errors.append(f"{probe.name}: no output")
            report.unknown.setdefault(probe.name, "no output")
            continue
        try:
            report.results[probe.name] = probe.parse(outputs)
        except Exception as exc:  # a parser bug must not lose the other probes
            report.errors.append(f"{probe.name}: could not parse: {type(exc).__name__}: {exc}")
    slow = [k for k, o in outputs.items() if o.timed_out]
    if slow:
        report.status = HostStatus.timed_out
        report.errors.append(f"timed out on the host: {', '.join(slow)}")
    return report


def _unknown_reason(probe: Probe, outputs: Mapping[str, Output]) -> str | None:
    """Why a probe's answer is incomplete: a frame that never came, or a command timed out."""
    missing, slow, absent = [], [], []
    for step in probe.steps:
        out = outputs.get(step.key)
        if out is None:
            primary = outputs.get(step.fallback_for) if step.fallback_for else None
            if primary is not None and primary.ok:
                continue  # a fallback only runs when its primary failed
            missing.append(step.key)
        elif out.timed_out:
            slow.append(step.key)
        elif out.missing_tool and step.fallback_for is None:
            absent.append(step.key)
    if slow:
        return f"timed out on the host: {', '.join(slow)}"
    if missing:
        return f"no output came back for {', '.join(missing)} (stopped on the host?)"
    if absent and len(absent) == len(probe.steps) - sum(1 for s in probe.steps if s.fallback_for):
        return f"command not found on the host: {', '.join(absent)}"
    return None


@dataclass(frozen=True)
class ProbeScript:
    """The probe script of one run, built once and sent to every host."""

    probes: tuple[Probe, ...]
    steps: tuple[Step, ...]
    command: Command
    boundary: str
    limit_s: float

    @classmethod
    def build(cls, probes: Sequence[Probe], *, command_timeout: float | None = None) -> ProbeScript:
        """The script for these probes; ``command_timeout`` caps every command's limit."""
        steps = steps_of(probes)
        if command_timeout is not None:
            steps = [replace(s, timeout=min(s.timeout, command_timeout)) for s in steps]
        script, boundary = build_script(steps)
        limit = max(s.timeout for s in steps) + SCRIPT_MARGIN_S
        return cls(tuple(probes), tuple(steps), Command.script(script), boundary, limit)


def probe_host(
    transport: Transport,
    probes: Sequence[Probe],
    *,
    command_timeout: float | None = None,
    script: ProbeScript | None = None,
) -> HostReport:
    """Connect, run every probe's steps in one script, parse. Transport errors propagate.

    ``command_timeout`` caps every command's time limit on the host; ``script``, when given
    (built once for a fleet), is used as it is.
    """
    if script is None:
        script = ProbeScript.build(probes, command_timeout=command_timeout)
    limit = script.limit_s
    start = time.monotonic()
    transport.connect()
    connected = time.monotonic()
    result = transport.run(script.command, timeout=limit)
    done = time.monotonic()
    outputs = parse_framed(result.stdout, script.boundary, script.steps)
    report = analyze_outputs(transport.host, outputs, script.probes, live=True)
    report.timings = {
        "connect_s": round(connected - start, 3),
        "run_s": round(done - connected, 3),
    }
    if result.timed_out:
        report.status = HostStatus.timed_out
        report.errors.append(f"probe script did not finish within {limit:g} s")
    elif result.rc not in (0, None) and not outputs:
        report.status = HostStatus.failed
        first = (result.stderr or result.stdout).strip().splitlines()[:1]
        report.errors.append(f"probe script failed (rc={result.rc}): {first[0] if first else ''}")
    return report
