"""Slurm node state from ``scontrol -o -d show node`` or ``sinfo --json`` (Slurm 22.05+).

Both readers give the same :class:`SlurmNode` values; the text reader is the fallback because
the JSON layout changes between Slurm releases (``meta.Slurm.release`` is checked). Recorded
real output of both is in ``tests/fixtures/slurm/``. A reason carries who set it and when
(``dcctl: xid_79 [root@2026-11-28T12:13:32]``): that suffix is split off, so whether dcctl owns
a drain is decided on the reason's text alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from dcctl.errors import DcctlError, ExitCode

#: Base states in which a drained node still runs jobs (DRAINING, not yet DRAINED).
BUSY_STATES = frozenset({"mixed", "allocated", "completing"})
#: JSON layouts this reader knows (``meta.plugin.type``).
KNOWN_JSON = ("openapi/v0.0.37", "openapi/v0.0.38", "openapi/v0.0.39")
_UNREACHABLE = ("unable to contact slurm controller", "connection refused", "timed out",
                "socket timed out", "zero bytes were transmitted")  # fmt: skip
_REASON_BY = re.compile(r"\s*\[([^\]@]*)@([^\]]*)\]\s*$")
_KEY = re.compile(r"\s(?=[A-Za-z][A-Za-z0-9_:]*=)")


class SlurmOutputError(DcctlError):
    """Slurm printed something this reader does not understand (never guessed at)."""

    exit_code = ExitCode.HOSTS_FAILED


class SchedulerUnreachableError(DcctlError):
    """slurmctld did not answer: the state is unknown, nothing may be decided from it."""

    exit_code = ExitCode.HOSTS_FAILED


@dataclass(frozen=True)
class SlurmNode:
    """One node as Slurm sees it."""

    name: str
    state: str  # base state, lower case: idle, mixed, allocated, down, ...
    flags: tuple[str, ...] = ()  # DRAIN, NOT_RESPONDING, ...
    reason: str | None = None  # without the "[user@time]" Slurm appends
    reason_by: str | None = None
    gpus: int | None = None
    gpus_used: int | None = None
    gpu_indexes_used: tuple[int, ...] = ()
    cpus_alloc: int | None = None  # CPUs given to jobs (CPUAlloc)
    mem_alloc_mib: int | None = None  # memory given to jobs, MiB (AllocMem)

    @property
    def drain(self) -> bool:
        """Drain was asked (DRAINING or DRAINED)."""
        return "DRAIN" in self.flags

    @property
    def drained(self) -> bool:
        """Drained and no job left on it: safe to change."""
        return self.drain and self.state not in BUSY_STATES

    @property
    def draining(self) -> bool:
        """Drain asked, jobs still running."""
        return self.drain and self.state in BUSY_STATES

    def owned_by(self, prefix: str) -> bool:
        """The current reason was written by whoever writes ``prefix`` (dcctl: ``dcctl:``)."""
        return self.reason is not None and self.reason.startswith(prefix)


def check_reachable(text: str, rc: int | None) -> None:
    """SchedulerUnreachableError when a client's output says slurmctld did not answer."""
    lowered = text.lower()
    if rc is None or (rc != 0 and any(s in lowered for s in _UNREACHABLE)):
        first = (text.strip().splitlines() or ["no answer"])[0]
        raise SchedulerUnreachableError(f"slurm: scheduler unreachable: {first}")


def parse_state(text: str) -> tuple[str, tuple[str, ...]]:
    """``MIXED+DRAIN`` → (``mixed``, (``DRAIN``,)); a trailing ``*`` is NOT_RESPONDING."""
    text = text.strip()
    flags: list[str] = []
    if text.endswith("*"):
        text = text[:-1]
        flags.append("NOT_RESPONDING")
    base, *rest = text.split("+")
    if not base:
        raise SlurmOutputError(f"slurm: empty node state {text!r}")
    return base.lower(), tuple(dict.fromkeys([*(f.upper() for f in rest), *flags]))


def split_reason(text: str | None) -> tuple[str | None, str | None]:
    """``dcctl: x [root@2026-…]`` → (``dcctl: x``, ``root``); empty → (None, None)."""
    if not text:
        return None, None
    match = _REASON_BY.search(text)
    if match is None:
        return text.strip() or None, None
    return text[: match.start()].strip() or None, match.group(1) or None


def gpu_count(gres: str | None) -> tuple[int | None, tuple[int, ...]]:
    """GPUs in a gres string (``gpu:h100:3(IDX:0-2),gpu:a100:1``) and the indexes given."""
    if not gres or gres in ("(null)", "N/A"):
        return None, ()
    total: int | None = None
    indexes: list[int] = []
    for entry in re.split(r",(?![^()]*\))", gres):
        name, _, rest = entry.partition("(")
        parts = name.split(":")
        if parts[0] != "gpu":
            continue
        try:
            count = int(parts[-1]) if len(parts) > 1 else 1
        except ValueError:
            raise SlurmOutputError(f"slurm: GPU count in {entry!r} is not a number") from None
        total = (total or 0) + count
        idx = re.search(r"IDX:([0-9,\-]+)", rest)
        if idx:
            for part in idx.group(1).split(","):
                lo, _, hi = part.partition("-")
                try:
                    indexes.extend(range(int(lo), int(hi or lo) + 1))
                except ValueError:
                    raise SlurmOutputError(f"slurm: GPU indexes in {entry!r}") from None
    return total, tuple(indexes)


def _int(value: object) -> int | None:
    """A count Slurm printed (None when absent or not a whole number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def parse_scontrol_nodes(text: str) -> list[SlurmNode]:
    """Nodes from ``scontrol -o [-d] show node`` (one line each; ``Reason=`` is last)."""
    nodes = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head, sep, reason_text = line.partition(" Reason=")
        fields: dict[str, str] = {}
        for token in _KEY.split(" " + head.strip()):
            key, eq, value = token.strip().partition("=")
            if eq:
                fields[key] = value.strip()
        if "NodeName" not in fields or "State" not in fields:
            raise SlurmOutputError(f"slurm: scontrol line {number} has no NodeName/State")
        state, flags = parse_state(fields["State"])
        reason, by = split_reason(reason_text if sep else None)
        gpus, _ = gpu_count(fields.get("Gres"))
        used, indexes = gpu_count(fields.get("GresUsed")) if "GresUsed" in fields else (None, ())
        cpus, mem = _int(fields.get("CPUAlloc")), _int(fields.get("AllocMem"))
        nodes.append(SlurmNode(fields["NodeName"], state, flags, reason, by, gpus, used, indexes,
                               cpus, mem))  # fmt: skip
    return nodes


def parse_sinfo_json(text: str) -> list[SlurmNode]:
    """Nodes from ``sinfo --json`` (every node: it ignores filters; filter yourself)."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SlurmOutputError(f"slurm: sinfo --json is not JSON ({exc.msg})") from None
    plugin = str(((data or {}).get("meta") or {}).get("plugin", {}).get("type", ""))
    if plugin not in KNOWN_JSON or not isinstance(data.get("nodes"), list):
        raise SlurmOutputError(
            f"slurm: sinfo --json layout {plugin or 'unknown'} not known (use the scontrol reader)"
        )
    nodes = []
    for raw in data["nodes"]:
        state = str(raw.get("state", "")).lower()
        if not state:
            raise SlurmOutputError(f"slurm: node {raw.get('name')!r} without a state")
        flags = tuple(str(f).upper() for f in raw.get("state_flags") or ())
        reason, _ = split_reason(raw.get("reason"))
        gpus, _ = gpu_count(raw.get("gres"))
        used, indexes = gpu_count(raw.get("gres_used"))
        by = raw.get("reason_set_by_user") or None
        nodes.append(SlurmNode(str(raw["name"]), state, flags, reason, by if reason else None,
                               gpus, used, indexes, _int(raw.get("alloc_cpus")),
                               _int(raw.get("alloc_memory"))))  # fmt: skip
    return nodes
