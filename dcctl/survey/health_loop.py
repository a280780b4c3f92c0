"""The closed loop: drain hosts whose findings call for it, resume them once healthy again.

``dcctl health --drain`` (from cron) and ``dcctl health --local --slurm`` (Slurm's
HealthCheckProgram) judge hosts, then:

- a host whose findings' action takes it out of service (reset GPU, reboot, drain, RMA, …) is
  drained with the rule ids in the reason (``dcctl: health xid_79 (reset_gpu)``); an admin's
  drain is never overwritten;
- a host that dcctl's health loop drained is resumed after ``resume_after`` consecutive
  healthy runs (``scheduler.resume_after``, default 3); a drain made by ``dcctl drain`` for
  maintenance is not the loop's and stays;
- a warning or an unknown verdict breaks the run of healthy results.

What each host last was, and its healthy-run count, is kept in ``<state dir>/health/state.json``
(written atomically, under a lock); every action is appended to ``actions.jsonl`` beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcctl.errors import DcctlError, ExitCode
from dcctl.inventory.model import Host, Inventory, SchedulerSettings
from dcctl.scheduler.actions import Decide, HostAction, Opener, run_actions
from dcctl.scheduler.ownership import MAX_REASON, SchedulerAction, plan_drain, plan_resume
from dcctl.scheduler.scope import SlurmScope
from dcctl.scheduler.slurm_nodes import SlurmNode
from dcctl.source.files import write_atomically
from dcctl.survey.health import FleetHealth, HostHealth

STATE_SCHEMA = "dcctl.health.state/1"
#: What follows the prefix in every reason the loop writes: how its own drains are recognised.
LOOP_TAG = "health"


class HealthStateError(DcctlError):
    """The loop's state could not be written (its actions were taken; the count is not kept)."""

    exit_code = ExitCode.HOSTS_FAILED


@dataclass
class HostMemory:
    """What the loop last saw of a host."""

    verdict: str
    at: float
    rules: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    healthy_runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"verdict": self.verdict, "at": round(self.at, 3), "rules": self.rules,
                "actions": self.actions, "healthy_runs": self.healthy_runs}  # fmt: skip


@dataclass
class HealthState:
    """Every host's memory, from ``state.json`` (a damaged file starts afresh, with a warning)."""

    path: Path
    hosts: dict[str, HostMemory] = field(default_factory=dict)
    warning: str | None = None

    @classmethod
    def load(cls, path: Path) -> HealthState:
        """Read the state; a missing file is empty, a damaged one empty with a warning."""
        state = cls(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return state
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            state.warning = f"{path}: unreadable ({exc}); healthy-run counts start again"
            return state
        hosts = data.get("hosts") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("schema") != STATE_SCHEMA
            or not isinstance(hosts, dict)
        ):
            state.warning = f"{path}: not a {STATE_SCHEMA} file; healthy-run counts start again"
            return state
        for name, raw in hosts.items():
            try:
                state.hosts[str(name)] = HostMemory(
                    str(raw["verdict"]), float(raw["at"]), [str(r) for r in raw["rules"]],
                    [str(a) for a in raw["actions"]], max(0, int(raw["healthy_runs"])),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                state.warning = f"{path}: entry '{name}' is damaged; its count starts again"
        return state

    def record(self, fleet: FleetHealth, now: float | None = None) -> None:
        """Record a run's verdicts: ok adds to a host's healthy run, anything else ends it."""
        now = time.time() if now is None else now
        for h in fleet.hosts:
            before = self.hosts.get(h.host)
            healthy = (before.healthy_runs if before else 0) + 1 if h.verdict == "ok" else 0
            self.hosts[h.host] = HostMemory(h.verdict, now, sorted({f.code for f in h.findings}),
                                            h.actions, healthy)  # fmt: skip

    def save(self) -> None:
        """Write atomically (a temporary file renamed over the old one)."""
        doc = {"schema": STATE_SCHEMA,
               "hosts": {n: m.to_dict() for n, m in sorted(self.hosts.items())}}  # fmt: skip
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(doc, indent=1) + "\n")
        except OSError as exc:
            raise HealthStateError(f"health state {self.path}: {exc.strerror or exc}") from None


def state_path(state_dir: Path) -> Path:
    """``<state dir>/health/state.json``."""
    return state_dir / "health" / "state.json"


@contextlib.contextmanager
def locked_state(state_dir: Path) -> Iterator[HealthState]:
    """The loop's state under an exclusive lock (two loops never interleave their counts)."""
    path = state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / "state.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield HealthState.load(path)


def drain_reason(host: HostHealth) -> str:
    """``health xid_79,row_remap_pending (reset_gpu)``: the rules and the action (fits Slurm)."""
    rules = sorted({f.code for f in host.findings if f.action.value in host.actions})
    action = host.actions[0] if host.actions else "drain"
    reason = f"{LOOP_TAG} {','.join(rules)} ({action})"
    budget = MAX_REASON - 40  # room for the prefix
    if len(reason) > budget:
        keep = budget - len(f" (+more) ({action})") - len(LOOP_TAG) - 1
        reason = f"{LOOP_TAG} {','.join(rules)[:keep].rstrip(',')} (+more) ({action})"
    return reason


def is_loop_drain(node: SlurmNode | None, prefix: str) -> bool:
    """The node's current drain was written by the health loop."""
    return (
        node is not None
        and node.drain
        and node.reason is not None
        and node.reason.startswith(f"{prefix} {LOOP_TAG} ")
    )


def decide(
    fleet: FleetHealth,
    state: HealthState,
    resume_after: int | None = None,
) -> Decide:
    """The loop's decision for one scope, as :func:`run_actions` asks for it."""
    by_host = {h.host: h for h in fleet.hosts}

    def for_scope(nodes: dict[str, SlurmNode], scope: SlurmScope) -> list[SchedulerAction]:
        out: list[SchedulerAction] = []
        wanted = resume_after or scope.resume_after
        for host, node_name in scope.nodes.items():
            h = by_host.get(host)
            node = nodes.get(node_name)
            if h is None:
                continue
            if h.needs_drain:
                out += plan_drain(nodes, [node_name], drain_reason(h), scope.prefix)
            elif not is_loop_drain(node, scope.prefix):
                why = "not drained" if node is None or not node.drain else (
                    f"drained, not by the health loop: '{node.reason}' (left alone)")  # fmt: skip
                out.append(SchedulerAction(node_name, "skip", f"{h.verdict}; {why}"))
            elif h.verdict != "ok":
                out.append(SchedulerAction(node_name, "skip", f"{h.verdict}: stays drained"))
            else:
                memory = state.hosts.get(host)
                runs = memory.healthy_runs if memory else 0
                if runs >= wanted:
                    resume = plan_resume(nodes, [node_name], scope.prefix)[0]
                    out.append(SchedulerAction(node_name, resume.action,
                                               f"healthy {runs} run(s) in a row; " + resume.why,
                                               resume.argv))  # fmt: skip
                else:
                    why = f"healthy {runs} of {wanted} run(s) before resume"
                    out.append(SchedulerAction(node_name, "skip", why))
        return out

    return for_scope


def close_the_loop(
    scopes: Sequence[SlurmScope],
    opener: Opener,
    fleet: FleetHealth,
    state_dir: Path,
    *,
    act: bool = True,
    resume_after: int | None = None,
) -> tuple[list[HostAction], list[str]]:
    """Record the verdicts, decide, drain and resume (``act``); the actions and any warnings.

    The scheduler is read before anything changes: SchedulerUnreachableError leaves Slurm and
    the loop's state untouched (the healthy-run counts are kept only when the loop acted).
    """
    with locked_state(state_dir) as state:
        warnings = [state.warning] if state.warning else []
        state.record(fleet)
        actions = run_actions(scopes, decide(fleet, state, resume_after), opener, act=act)
        if act:
            state.save()
            journal_actions(state_dir, actions)
    return actions, warnings


def journal_actions(state_dir: Path, actions: Sequence[HostAction]) -> None:
    """Append every drain and resume (not the skips) to ``<state dir>/health/actions.jsonl``."""
    lines = [json.dumps({"time": round(time.time(), 3), **a.to_dict()}) + "\n"
             for a in actions if a.argv is not None]  # fmt: skip
    if not lines:
        return
    path = state_dir / "health" / "actions.jsonl"
    try:
        with path.open("a") as fh:
            fh.write("".join(lines))
    except OSError as exc:
        raise HealthStateError(f"health journal {path}: {exc.strerror or exc}") from None


def local_scope(inventory: Inventory | None, node: str) -> tuple[str, SlurmScope]:
    """The inventory host name of this node and a scope of just itself (clients run here).

    ``node`` is the Slurm node name (Slurm gives it to its HealthCheckProgram as
    ``$SLURMD_NODENAME``); the inventory host is the one with that node name, else that name.
    Without an inventory (or a host of that name) the built-in scheduler settings apply.
    """
    host: Host | None = None
    if inventory is not None:
        host = next((h for h in inventory.hosts.values() if h.slurm_node == node),
                    inventory.hosts.get(node))  # fmt: skip
    sched = host.scheduler if host is not None else SchedulerSettings()
    name = host.name if host is not None else node
    return name, SlurmScope("local", sched.timeout, sched.reason_prefix, sched.resume_after,
                            {name: node})  # fmt: skip


def last_verdicts(state_dir: Path) -> Mapping[str, HostMemory]:
    """What the loop last recorded per host (empty when it never ran here)."""
    return HealthState.load(state_path(state_dir)).hosts
