"""The planner: read each host's state in one round trip, compare, and return a Plan.

It never writes: the only commands it runs are the resources' reads. ``apply --dry-run`` and
``apply`` both start from the Plan it returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from dcctl.errors import DcctlError, SelectionError
from dcctl.inventory.model import Inventory
from dcctl.model.command import Command
from dcctl.playbook.model import HostPlan, Outcome, Plan
from dcctl.playbook.resources.base import Resource, read_failure
from dcctl.playbook.schema import Playbook, build_resource
from dcctl.playbook.template import Vars
from dcctl.probes.base import Output, Step
from dcctl.probes.script import build_script, parse_framed
from dcctl.transport.base import Transport
from dcctl.transport.fanout import fan_out

_ANY = re.compile("")
READ_TIMEOUT_S = 30.0
BECOME_KEY = "become.sudo"


def _sudo_problem(output: Output | None) -> str:
    """Why ``sudo -n true`` failed, in words a person acts on."""
    if output is None:
        return "the check never ran"
    text = output.text.lower()
    if output.missing_tool:
        return "sudo is not installed on the host"
    if "password" in text:
        return "sudo asks for a password (dcctl runs sudo -n: allow NOPASSWD for this user)"
    if "not in the sudoers" in text or "not allowed" in text:
        return "this user may not run commands with sudo"
    return read_failure(output)


def become(command: Command, how: str | None) -> Command:
    """The command as run on the host: through ``sudo -n`` when the playbook asks for it."""
    if how == "sudo":
        return Command(
            ("sudo", "-n", "--", *command.argv), frozenset(i + 3 for i in command.secret)
        )
    return command


def host_resources(
    playbook: Playbook,
    inventory: Inventory,
    host: str,
    memo: ResourceMemo | None = None,
) -> list[Resource]:
    """The playbook's resources that target a host, built with its variables.

    Variables: the host's inventory vars, overridden by the playbook's. ``memo`` (one per
    plan) selects each resource's hosts once and builds a resource once per distinct
    variables, instead of once per host.
    """
    memo = memo or ResourceMemo(playbook, inventory)
    return memo.resources(host)


class ResourceMemo:
    """What one plan reuses across hosts.

    Each resource's own ``hosts:`` is selected once, and resources are built once per
    distinct set of host variables (most hosts of a fleet share theirs).
    """

    def __init__(self, playbook: Playbook, inventory: Inventory) -> None:
        """Remember the playbook and inventory; nothing is computed yet."""
        self.playbook = playbook
        self.inventory = inventory
        self._selected: dict[int, frozenset[str]] = {}
        self._built: dict[str, list[Resource]] = {}

    def resources(self, host: str) -> list[Resource]:
        """The resources that target ``host``, built with its variables."""
        values = {**self.inventory.hosts[host].vars, **self.playbook.vars}
        specs = [
            (i, spec)
            for i, spec in enumerate(self.playbook.resources)
            if spec.hosts is None or host in self._hosts_of(i, spec.hosts)
        ]
        key = repr((sorted(values.items()), [i for i, _ in specs]))
        built = self._built.get(key)
        if built is None:
            variables = Vars(values, self.playbook.secret_vars)
            built = [build_resource(spec, variables) for _, spec in specs]
            if len(self._built) < 4096:
                self._built[key] = built
        return list(built)

    def _hosts_of(self, index: int, pattern: str) -> frozenset[str]:
        if index not in self._selected:
            self._selected[index] = frozenset(self.inventory.select(pattern).names)
        return self._selected[index]


def plan_host(
    transport: Transport, resources: Sequence[Resource], how: str | None = None
) -> HostPlan:
    """Read every resource's state in one script, then plan each resource."""
    plan = HostPlan(transport.host)
    steps, keys = _read_steps(tuple(resources), how)
    outputs: dict[str, Output] = {}
    if steps:
        script, boundary = build_script(steps)
        transport.connect()
        result = transport.run(Command.script(script), timeout=READ_TIMEOUT_S + 10)
        outputs = parse_framed(result.stdout, boundary, steps)
        if result.timed_out:
            plan.error = "reading the current state timed out"
            return plan
        check = outputs.get(BECOME_KEY)
        if how == "sudo" and (check is None or not check.ok):
            plan.error = f"become: sudo: {_sudo_problem(check)}"
            return plan
    for resource, mine in zip(resources, keys, strict=True):
        try:
            plan.outcomes.append(
                _planned(resource, {n: outputs[k] for n, k in mine.items() if k in outputs})
            )
        except DcctlError as exc:
            plan.outcomes.append(Outcome(resource.label(), None, error=str(exc)))
            plan.error = plan.error or f"{resource.label()}: {exc}"
    return plan


#: Outcomes already planned: a resource's plan is a function of its reads alone, and the hosts
#: of a fleet mostly read the same, so each distinct (resource, reads) is planned once.
_OUTCOME_CACHE: dict[tuple[Resource, tuple[tuple[str, Output], ...]], Outcome] = {}


def _planned(resource: Resource, outputs: dict[str, Output]) -> Outcome:
    try:
        key = (resource, tuple(sorted(outputs.items())))
        cached = _OUTCOME_CACHE.get(key)
    except TypeError:  # an unhashable resource: plan it every time
        return resource.plan(outputs)
    if cached is None:
        cached = resource.plan(outputs)
        if len(_OUTCOME_CACHE) >= 4096:
            _OUTCOME_CACHE.clear()
        _OUTCOME_CACHE[key] = cached
    return cached


#: Read steps of recently seen resource lists: hosts of one fleet mostly share them.
_STEPS_CACHE: dict[tuple[tuple[Resource, ...], str | None], Any] = {}
_STEPS_CACHE_MAX = 256


def _read_steps(
    resources: tuple[Resource, ...], how: str | None
) -> tuple[list[Step], list[dict[str, str]]]:
    """The read script's steps for these resources (deduplicated), and each one's keys.

    Computed once per distinct resource list (quoting every command is most of a host's
    planning time on a large fleet); the script's boundary stays fresh per host.
    """
    try:
        cached = _STEPS_CACHE.get((resources, how))
    except TypeError:  # a resource holding an unhashable value: no cache
        return _build_read_steps(resources, how)
    if cached is None:
        cached = _build_read_steps(resources, how)
        if len(_STEPS_CACHE) >= _STEPS_CACHE_MAX:
            _STEPS_CACHE.clear()
        _STEPS_CACHE[(resources, how)] = cached
    steps, keys = cached
    return list(steps), [dict(k) for k in keys]


def _build_read_steps(
    resources: Sequence[Resource], how: str | None
) -> tuple[list[Step], list[dict[str, str]]]:
    steps: list[Step] = []
    keys: list[dict[str, str]] = []
    by_shell: dict[str, str] = {}
    if how == "sudo" and resources:
        # First: can we become root without a password? Otherwise every read below would fail
        # for that reason alone, and look like "absent".
        steps.append(Step(BECOME_KEY, become(Command.of(["true"]), how).shell(), _ANY, 10.0))
    for i, resource in enumerate(resources):
        mine = {}
        for name, command in resource.reads().items():
            shell = become(command, how).shell()
            if shell not in by_shell:
                key = f"r{i}.{name}"
                by_shell[shell] = key
                guarded = command.argv[0] == "nvidia-smi"
                steps.append(Step(key, shell, _ANY, READ_TIMEOUT_S, guarded=guarded))
            mine[name] = by_shell[shell]
        keys.append(mine)
    return steps, keys


def plan_playbook(
    playbook: Playbook,
    inventory: Inventory,
    transport_for: Callable[[str], Transport],
    *,
    limit: str | None = None,
    forks: int = 64,
) -> Plan:
    """Plan a playbook on its hosts (narrowed by ``limit``); unreachable hosts get an error.

    A selection that leaves no host is a SelectionError: nothing to do is not success.
    """
    hosts = inventory.select(playbook.hosts)
    if limit:
        hosts = hosts & inventory.select(limit)
    if not hosts:
        where = f"hosts: {playbook.hosts!r}" + (f" narrowed by --limit {limit!r}" if limit else "")
        raise SelectionError(f"{playbook.file or playbook.name}: {where} selects no host")

    memo = ResourceMemo(playbook, inventory)

    def work(host: str) -> HostPlan:
        transport = transport_for(host)
        try:
            return plan_host(transport, memo.resources(host), playbook.become)
        finally:
            transport.close()

    outcomes = fan_out(list(hosts), work, forks=forks)
    plan = Plan(playbook.name, secrets=playbook.secret_values)
    for outcome in outcomes:
        if outcome.value is not None:
            plan.hosts.append(outcome.value)
        else:
            plan.hosts.append(HostPlan(outcome.host, error=f"{outcome.status}: {outcome.error}"))
    return plan
