"""Drain and resume with owned reasons: decide, from Slurm's node state, what dcctl may do.

dcctl writes its own reasons (``dcctl: …``) and never overwrites one it did not write: an
admin's drain stays. Resume returns only nodes whose current reason is dcctl's, unless forced,
and then the action says what it overrides. The decision is a value (a list of actions with the
exact ``scontrol`` argv), shown by a dry-run and carried out as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dcctl.errors import InputError
from dcctl.scheduler.slurm_nodes import SlurmNode

DEFAULT_PREFIX = "dcctl:"
MAX_REASON = 200
_NODE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class SchedulerAction:
    """One node: drain, resume, or skip, why, and the exact command (None for a skip)."""

    node: str
    action: str  # drain | resume | skip
    why: str
    argv: tuple[str, ...] | None = None


def owned_reason(reason: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The reason dcctl writes: prefixed, one line, printable, at most 200 characters."""
    text = reason.strip()
    if not text:
        raise InputError("a drain needs a reason (Slurm refuses a drain without one)")
    if any(not c.isprintable() for c in text):
        raise InputError("the drain reason must be one line of printable text")
    full = text if text.startswith(prefix) else f"{prefix} {text}"
    if len(full) > MAX_REASON:
        raise InputError(f"the drain reason is longer than {MAX_REASON} characters")
    return full


def _check_name(node: str) -> None:
    if not _NODE_NAME.fullmatch(node):
        raise InputError(f"{node!r} is not a Slurm node name dcctl will pass to scontrol")


def plan_drain(
    nodes: Mapping[str, SlurmNode],
    targets: Sequence[str],
    reason: str,
    prefix: str = DEFAULT_PREFIX,
) -> list[SchedulerAction]:
    """What draining ``targets`` with ``reason`` does, node by node."""
    text = owned_reason(reason, prefix)
    out = []
    for name in targets:
        _check_name(name)
        node = nodes.get(name)
        if node is None:
            out.append(SchedulerAction(name, "skip", "not a node of this Slurm cluster"))
        elif node.drain and not node.owned_by(prefix):
            who = f" by {node.reason_by}" if node.reason_by else ""
            out.append(SchedulerAction(
                name, "skip", f"already drained{who}: '{node.reason}' (left alone)"))  # fmt: skip
        elif node.drain and node.reason == text:
            out.append(SchedulerAction(name, "skip", "already drained by dcctl for this reason"))
        else:
            argv = ("scontrol", "update", f"nodename={name}", "state=drain", f"reason={text}")
            why = "drain" if not node.drain else f"drain: reason was '{node.reason}'"
            out.append(SchedulerAction(name, "drain", why, argv))
    return out


def plan_resume(
    nodes: Mapping[str, SlurmNode],
    targets: Sequence[str],
    prefix: str = DEFAULT_PREFIX,
    force: bool = False,
) -> list[SchedulerAction]:
    """What resuming ``targets`` does: only dcctl's drains, unless ``force``."""
    out = []
    for name in targets:
        _check_name(name)
        node = nodes.get(name)
        argv = ("scontrol", "update", f"nodename={name}", "state=resume")
        if node is None:
            out.append(SchedulerAction(name, "skip", "not a node of this Slurm cluster"))
        elif not node.drain:
            out.append(SchedulerAction(name, "skip", f"not drained ({node.state})"))
        elif node.owned_by(prefix):
            out.append(SchedulerAction(name, "resume", f"dcctl's drain: '{node.reason}'", argv))
        elif force:
            who = f" set by {node.reason_by}" if node.reason_by else ""
            out.append(SchedulerAction(
                name, "resume", f"--force overrides '{node.reason}'{who}", argv))  # fmt: skip
        else:
            why = f"drained by someone else: '{node.reason}' (--force overrides)"
            out.append(SchedulerAction(name, "skip", why))
    return out
