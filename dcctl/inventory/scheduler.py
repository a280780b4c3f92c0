"""The inventory's ``scheduler:`` section: which scheduler runs a host, and how dcctl talks to it.

Any settings layer may carry it (defaults, a group, a host entry)::

    scheduler:
      type: slurm              # the only one today
      run_on: local            # where scontrol runs: here, or an inventory host (over SSH)
      node_name: "{short}"     # the host's Slurm node name: a pattern ({name}, {short}) ...
      # node_name: {gpu001: n001}   # ... or a map (hosts not in it keep {name})
      reason_prefix: "dcctl:"  # what marks a drain as dcctl's own
      timeout: 20              # seconds one Slurm client call may take
      resume_after: 3          # healthy health --drain runs before dcctl resumes its drain

Reading keeps every value with its location; :func:`check_schedulers` cross-checks once the hosts
are known (``run_on`` names a host, node names are valid and distinct).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from yaml.nodes import MappingNode, ScalarNode

from dcctl.inventory.model import (
    SCHEDULER_TYPES,
    Host,
    SchedulerSettings,
    Setting,
)
from dcctl.model.nodeset import NodeSet
from dcctl.source.diagnostics import Diagnostics, Loc, did_you_mean
from dcctl.source.reader import Fields, kind_of, mapping_items

#: What Slurm accepts as a node name and dcctl will pass to scontrol (never an option or a field).
SLURM_NODE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
#: The placeholders of a ``node_name`` pattern.
PLACEHOLDERS = ("name", "short")
_PREFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,31}")


def read_scheduler(fields: Fields, origin: str) -> dict[str, Setting]:
    """The fields of one ``scheduler:`` mapping, each with its location and origin."""
    out: dict[str, Setting] = {}

    def put(key: str, value: object) -> None:
        if value is not None:
            out[key] = Setting(value, fields.loc(key), origin)

    put("type", fields.str("type", choices=SCHEDULER_TYPES))
    run_on = fields.str("run_on")
    if run_on is not None and run_on.startswith("-"):
        fields.error("run_on", f"'{run_on}' is not 'local' or a host name")
        run_on = None
    put("run_on", run_on)
    put("node_name", _read_node_name(fields))
    prefix = fields.str("reason_prefix")
    if prefix is not None and not _PREFIX.fullmatch(prefix):
        fields.error(
            "reason_prefix",
            "must be one word of at most 32 letters, digits or _ . : / - (such as 'dcctl:')",
        )
        prefix = None
    put("reason_prefix", prefix)
    put("timeout", fields.number("timeout", minimum=0, maximum=600, exclusive_minimum=True))
    put("resume_after", fields.number("resume_after", minimum=1, maximum=1000, integer=True))
    return out


def _read_node_name(fields: Fields) -> str | dict[str, str] | None:
    node = fields.value_node("node_name")
    if node is None:
        return None
    if isinstance(node, MappingNode):
        names: dict[str, str] = {}
        path = fields.field_path("node_name")
        for host, _, value in mapping_items(fields.source, node, path, fields.diags) or []:
            loc = fields.source.loc(value)
            if not isinstance(value, ScalarNode) or value.tag != "tag:yaml.org,2002:str":
                wrong = f"expected a string, got {kind_of(value)}"
                fields.diags.error(loc, f"{path}.{host}", wrong)
            elif not SLURM_NODE_NAME.fullmatch(value.value):
                fields.diags.error(loc, f"{path}.{host}", _bad_name(value.value))
            else:
                names[host] = value.value
        return names
    pattern = fields.str("node_name")
    if pattern is None:
        return None
    problem = pattern_problem(pattern)
    if problem is not None:
        fields.error("node_name", problem)
        return None
    return pattern


def pattern_problem(pattern: str) -> str | None:
    """Why a ``node_name`` pattern is unusable, or None."""
    try:
        keys = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        return f"'{pattern}' is not a pattern ({exc}); write {{name}} or {{short}}"
    for key in keys:
        if key not in PLACEHOLDERS:
            hint = did_you_mean(key, PLACEHOLDERS)
            return f"unknown placeholder '{{{key}}}'{hint}: use {{name}} or {{short}}"
    sample = node_name_for("gpu001.example.net", pattern)
    if not SLURM_NODE_NAME.fullmatch(sample):
        return _bad_name(sample)
    return None


def _bad_name(name: str) -> str:
    return (
        f"'{name}' is not a Slurm node name dcctl will pass to scontrol "
        "(letters, digits, '.', '-', '_', not starting with '-' or '.')"
    )


def node_name_for(host: str, pattern: str | Mapping[str, str] | None) -> str:
    """A host's Slurm node name from the resolved ``node_name`` (default: the host's name)."""
    if isinstance(pattern, Mapping):
        return pattern.get(host, host)
    if pattern is None:
        return host
    return pattern.format(name=host, short=host.split(".", 1)[0])


def scheduler_settings(host: str, values: Mapping[str, Setting]) -> SchedulerSettings:
    """The resolved settings of one host from its layered ``scheduler:`` values."""
    given: dict[str, Any] = {key: setting.value for key, setting in values.items()}
    default = SchedulerSettings()
    return SchedulerSettings(
        type=given.get("type", default.type),
        run_on=given.get("run_on", default.run_on),
        node_name=node_name_for(host, given.get("node_name")),
        reason_prefix=given.get("reason_prefix", default.reason_prefix),
        timeout=float(given.get("timeout", default.timeout)),
        resume_after=int(given.get("resume_after", default.resume_after)),
        configured=bool(given),
    )


def check_schedulers(hosts: Mapping[str, Host], diags: Diagnostics) -> None:
    """``run_on`` names a host; every Slurm node name is valid and distinct (once per place)."""
    reported: set[tuple[Loc | None, str]] = set()

    def error(host: Host, key: str, message: str) -> None:
        setting = host.settings.get(f"scheduler.{key}")
        loc = setting.loc if setting else host.loc
        if (loc, message) not in reported:
            reported.add((loc, message))
            diags.error(loc, _path(setting, key), message)

    sharing: dict[tuple[str, str], list[Host]] = {}
    for host in hosts.values():
        sched = host.scheduler
        if sched.run_on != "local" and sched.run_on not in hosts:
            hint = did_you_mean(sched.run_on, hosts)
            error(host, "run_on", f"'{sched.run_on}' is not 'local' or a host{hint}")
        if not SLURM_NODE_NAME.fullmatch(sched.node_name):
            error(host, "node_name", f"host '{host.name}': {_bad_name(sched.node_name)}")
            continue
        sharing.setdefault((sched.run_on, sched.node_name), []).append(host)
    for (_, node), same in sharing.items():
        if len(same) > 1:
            names = NodeSet.from_names(h.name for h in same)
            error(same[0], "node_name", f"hosts {names} are all Slurm node '{node}'")


def _path(setting: Setting | None, key: str) -> str:
    """The field path of a layered setting, from the layer that set it."""
    origin = setting.origin if setting else "defaults"
    if origin.startswith("host entry "):
        return f"{origin.removeprefix('host entry ')}.scheduler.{key}"
    if origin.startswith("group '"):
        return f"groups.{origin[7:-1]}.scheduler.{key}"
    return f"defaults.scheduler.{key}" if setting else f"scheduler.{key}"
