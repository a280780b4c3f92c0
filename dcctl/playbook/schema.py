"""Reading a playbook: located errors like the inventory's, resources built per host.

```yaml
name: RDMA sysctl tuning
hosts: "@h100"                 # a --limit expression
become: sudo                   # optional: run reads and writes through sudo -n
vars:
  rmem: 268435456
  token: {secret: "s3cr3t"}    # shown as *** in every plan, log and journal
resources:
  - {type: sysctl, name: net.core.rmem_max, value: "{{ rmem }}"}
  - {type: gpu_power_limit, hosts: "gpu[001-008]", watts: 650}
```
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from dcctl.errors import PlaybookError, PlaybookFileError
from dcctl.model.secrets import mask
from dcctl.playbook.resources.base import Resource
from dcctl.playbook.resources.files import FileResource, LineResource
from dcctl.playbook.resources.gpu import (
    COMPUTE_MODES,
    GpuComputeMode,
    GpuPersistence,
    GpuPowerLimit,
)
from dcctl.playbook.resources.services import (
    KernelModuleResource,
    MtuResource,
    PackageResource,
    ServiceResource,
)
from dcctl.playbook.resources.system import CommandResource, SysctlResource
from dcctl.playbook.template import VAR_PATTERN, Vars, render
from dcctl.playbook.values import argument, check_value
from dcctl.source.diagnostics import Diagnostics, Loc, did_you_mean
from dcctl.source.reader import Fields, Source, mapping_items, read_document, to_plain

DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/90-dcctl.conf"
FIELDS: dict[str, tuple[str, ...]] = {
    "file": ("path", "content", "mode", "owner"),
    "line": ("path", "line", "state"),
    "sysctl": ("name", "value", "file", "runtime"),
    "command": ("argv", "command", "creates", "unless"),
    "gpu_power_limit": ("watts", "percent", "gpus"),
    "gpu_persistence": ("enabled", "gpus"),
    "gpu_compute_mode": ("mode", "gpus"),
    "service": ("name", "enabled", "active"),
    "package": ("name", "state"),
    "kernel_module": ("name", "state"),
    "mtu": ("interface", "mtu"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "file": ("path", "content"),
    "line": ("path", "line"),
    "sysctl": ("name", "value"),
    "command": (),
    "gpu_power_limit": (),
    "gpu_persistence": (),
    "gpu_compute_mode": (),
    "service": ("name",),
    "package": ("name",),
    "kernel_module": ("name",),
    "mtu": ("interface", "mtu"),
}


@dataclass(frozen=True)
class ResourceSpec:
    """One resource as written: its type, raw parameters, where it is, which hosts it targets."""

    type: str
    params: Mapping[str, Any]
    loc: Loc
    path: str
    hosts: str | None = None


@dataclass(frozen=True)
class Playbook:
    """A parsed playbook."""

    name: str
    hosts: str
    resources: tuple[ResourceSpec, ...]
    vars: Mapping[str, Any] = field(default_factory=dict)
    secret_vars: frozenset[str] = frozenset()
    become: str | None = None
    file: str = ""

    @property
    def secret_values(self) -> frozenset[str]:
        """The values of the secret vars: what no output may show."""
        return frozenset(str(self.vars[n]) for n in self.secret_vars if self.vars.get(n))


def read_playbook(path: Path) -> Playbook:
    """Parse and check a playbook file; every problem is reported with file:line:column."""
    source, node, diags = read_document(path, PlaybookFileError)
    root = Fields(source, node, "", diags, ("name", "hosts", "become", "vars", "resources"),
                  ("hosts", "resources"))  # fmt: skip
    variables, secrets = _read_vars(source, root.value_node("vars"), diags)
    become = root.str("become", choices=("sudo",))
    specs = []
    for i, item in enumerate(root.sequence("resources") or []):
        spec = _read_resource(source, item, f"resources[{i}]", diags)
        if spec is not None:
            specs.append(spec)
    if diags.errors:
        raise PlaybookFileError(diags.sorted(), f"playbook {path} is invalid")
    return Playbook(
        name=root.str("name") or path.stem,
        hosts=root.str("hosts") or "",
        resources=tuple(specs),
        vars=variables,
        secret_vars=frozenset(secrets),
        become=become,
        file=str(path),
    )


def _read_vars(
    source: Source, node: Node | None, diags: Diagnostics
) -> tuple[dict[str, Any], set[str]]:
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    if node is None:
        return values, secrets
    for name, _, value in mapping_items(source, node, "vars", diags) or []:
        plain = to_plain(source, value, f"vars.{name}", diags)
        if isinstance(plain, dict) and set(plain) == {"secret"}:
            values[name] = plain["secret"]
            secrets.add(name)
        else:
            values[name] = plain
    return values, secrets


def _read_resource(
    source: Source, node: Node, path: str, diags: Diagnostics
) -> ResourceSpec | None:
    probe = Fields(
        source,
        node,
        path,
        diags,
        ("type", "hosts", *sorted({f for v in FIELDS.values() for f in v})),
    )
    if not probe.ok:
        return None
    kind = probe.str("type")
    if kind is None:
        if "type" not in probe:
            probe.error(None, "missing required field 'type'")
        return None
    if kind not in FIELDS:
        probe.error("type", f"unknown resource type '{kind}'{did_you_mean(kind, FIELDS)}")
        return None
    for key in probe.entries:
        if key not in ("type", "hosts") and key not in FIELDS[kind]:
            diags.error(
                probe.key_loc(key),
                probe.field_path(key),
                f"'{key}' is not a field of {kind} ({', '.join(FIELDS[kind])})",
            )
    for key in REQUIRED[kind]:
        if key not in probe:
            probe.error(None, f"{kind} needs '{key}'")
    params = {k: probe.plain(k) for k in FIELDS[kind] if k in probe}
    if kind == "gpu_power_limit" and ("watts" in params) == ("percent" in params):
        probe.error(None, "gpu_power_limit needs exactly one of 'watts' or 'percent'")
    if kind == "command" and ("argv" in params) == ("command" in params):
        probe.error(
            None,
            "command needs exactly one of 'argv' (a list) or 'command' "
            "(split like a shell would, never run by one)",
        )
    if (
        kind == "gpu_compute_mode"
        and str(params.get("mode", "DEFAULT")).upper() not in COMPUTE_MODES
    ):
        probe.error("mode", f"must be one of {', '.join(COMPUTE_MODES)}")
    for key, value in params.items():
        if isinstance(value, str) and "{{" not in value:
            problem = check_value(kind, key, value)
            if problem:
                probe.error(key, problem)
    stateful = ("line", "package", "kernel_module")
    if kind in stateful and params.get("state", "present") not in ("present", "absent"):
        probe.error("state", "must be 'present' or 'absent'")
    return ResourceSpec(kind, params, source.loc(node), path, probe.str("hosts"))


def build_resource(spec: ResourceSpec, variables: Vars) -> Resource:
    """The resource for one host, with ``{{ vars }}`` substituted (raises PlaybookError)."""
    secrets: set[str] = set()

    def text(key: str, default: str | None = None) -> str | None:
        raw = spec.params.get(key, default)
        if raw is None:
            return None
        value, used = render(str(raw), variables)
        secrets.update(used)
        problem = check_value(spec.type, key, value)
        if problem:
            raise PlaybookError(f"{spec.path}.{key}: {mask(problem, used)}")
        return value

    def number(key: str) -> float | None:
        value = text(key)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise PlaybookError(f"{spec.path}.{key}: '{value}' is not a number") from None

    def gpus() -> tuple[int, ...] | None:
        raw = spec.params.get("gpus")
        if raw is None:
            return None
        items = raw if isinstance(raw, list) else [raw]
        try:
            return tuple(int(x) for x in items)
        except (TypeError, ValueError):
            raise PlaybookError(f"{spec.path}.gpus: GPU indices are integers") from None

    def argv(key: str) -> tuple[str, ...] | None:
        raw = spec.params.get(key)
        if raw is None:
            return None
        if isinstance(raw, list):
            return tuple(text_of(x) for x in raw)
        return tuple(text_of(word) for word in split_command(str(raw), f"{spec.path}.{key}"))

    def text_of(raw: object, key: str | None = None) -> str:
        value, used = render(str(raw), variables)
        secrets.update(used)
        problem = check_value(spec.type, key, value) if key else argument(value)
        if problem:
            raise PlaybookError(f"{spec.path}{'.' + key if key else ''}: {mask(problem, used)}")
        return value

    kind = spec.type
    resource: Resource
    if kind == "file":
        resource = FileResource(
            text("path") or "", text("content") or "", text("mode"), text("owner")
        )
    elif kind == "line":
        present = text("state", "present") == "present"
        resource = LineResource(text("path") or "", text("line") or "", present)
    elif kind == "sysctl":
        raw_file = spec.params.get("file", DEFAULT_SYSCTL_FILE)
        target = None if raw_file in (False, None) else text_of(raw_file, "file")
        runtime = bool(spec.params.get("runtime", True))
        resource = SysctlResource(text("name") or "", text("value") or "", target, runtime)
    elif kind == "command":
        resource = CommandResource(
            argv("argv") or argv("command") or (), text("creates"), argv("unless")
        )
    elif kind == "gpu_power_limit":
        resource = GpuPowerLimit(number("watts"), number("percent"), gpus())
    elif kind == "gpu_persistence":
        resource = GpuPersistence(bool(spec.params.get("enabled", True)), gpus())
    elif kind == "gpu_compute_mode":
        resource = GpuComputeMode(str(spec.params.get("mode", "DEFAULT")).upper(), gpus())
    elif kind == "service":
        enabled, active = spec.params.get("enabled", True), spec.params.get("active", True)
        resource = ServiceResource(text("name") or "", enabled, active)
    elif kind == "package":
        resource = PackageResource(text("name") or "", text("state", "present") == "present")
    elif kind == "kernel_module":
        resource = KernelModuleResource(text("name") or "", text("state", "present") == "present")
    else:
        mtu = number("mtu")
        resource = MtuResource(text("interface") or "", int(mtu or 0))
    if secrets and hasattr(resource, "secrets"):
        resource = _with_secrets(resource, frozenset(secrets))
    return resource


_PLACEHOLDER = "\x00dcctl-var-{}\x00"


def split_command(template: str, where: str) -> list[str]:
    """Split a ``command:`` string into words like a shell would, before ``{{ vars }}``.

    A variable's value is then always within one argument and never re-parsed: a secret with a
    space or a quote in it stays whole, and a value cannot add arguments.
    """
    found: list[str] = []

    def hold(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return _PLACEHOLDER.format(len(found) - 1)

    held = VAR_PATTERN.sub(hold, template)
    try:
        words = shlex.split(held)
    except ValueError as exc:
        raise PlaybookError(
            f"{where}: {exc} (quote as a shell would, or give argv as a list)"
        ) from None
    for i, text in enumerate(found):
        words = [w.replace(_PLACEHOLDER.format(i), text) for w in words]
    return words


def _with_secrets(resource: Resource, secrets: frozenset[str]) -> Resource:
    if isinstance(resource, CommandResource):
        hidden = frozenset(
            i for i, arg in enumerate(resource.argv) if any(s and s in arg for s in secrets)
        )
        return replace(resource, secrets=secrets, secret_args=hidden)
    return replace(resource, secrets=secrets)  # type: ignore[type-var]
