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

from dcctl.errors import DcctlError, PlaybookError, PlaybookFileError
from dcctl.inventory.model import Inventory
from dcctl.model.nodeset import NodeSet
from dcctl.model.secrets import mask
from dcctl.playbook.resources.base import Resource
from dcctl.playbook.resources.registry import RESOURCE_TYPES
from dcctl.playbook.resources.system import CommandResource
from dcctl.playbook.resources.types import is_template, read_field, typed_after_render
from dcctl.playbook.template import VAR_PATTERN, Vars, render
from dcctl.playbook.values import argument, check_value
from dcctl.source.diagnostics import Diagnostics, Loc, did_you_mean
from dcctl.source.reader import Fields, Source, mapping_items, read_document, to_plain


@dataclass(frozen=True)
class ResourceSpec:
    """One resource as written: its type, raw parameters, where it is, which hosts it targets."""

    type: str
    params: Mapping[str, Any]
    loc: Loc
    path: str
    hosts: str | None = None
    hosts_loc: Loc | None = None


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
    hosts_loc: Loc | None = None

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
        hosts_loc=root.loc("hosts"),
    )


def check_playbook(playbook: Playbook, inventory: Inventory) -> None:
    """Check a playbook against the inventory it will run on, before any host is contacted.

    Its ``hosts:`` (and each resource's) must select something; every ``{{ variable }}`` must
    be known, from the playbook's vars or the inventory vars of every host it targets. Raises
    PlaybookFileError with every problem located.
    """
    diags = Diagnostics()
    try:
        selected = set(inventory.select(playbook.hosts).names)
        if not selected:
            diags.error(playbook.hosts_loc, "hosts", f"'{playbook.hosts}' selects no host")
    except DcctlError as exc:
        diags.error(playbook.hosts_loc, "hosts", str(exc))
        selected = set()
    for spec in playbook.resources:
        targets = selected
        if spec.hosts is not None:
            try:
                targets = selected & set(inventory.select(spec.hosts).names)
            except DcctlError as exc:
                diags.error(spec.hosts_loc or spec.loc, f"{spec.path}.hosts", str(exc))
                continue
            if not targets and selected:
                diags.warning(spec.hosts_loc or spec.loc, f"{spec.path}.hosts",
                              f"'{spec.hosts}' selects none of the playbook's hosts")  # fmt: skip
        used: set[str] = set()
        unknown = False
        for name, raw in spec.params.items():
            for var in _variables_in(raw):
                used.add(var)
                if var in playbook.vars:
                    continue
                missing = sorted(h for h in targets if var not in inventory.hosts[h].vars)
                if missing:
                    unknown = True
                    known = [*playbook.vars, *(inventory.hosts[missing[0]].vars)]
                    diags.error(
                        spec.loc, f"{spec.path}.{name}",
                        f"unknown variable '{{{{ {var} }}}}'{did_you_mean(var, known)}: not in "
                        f"the playbook's vars nor in the inventory vars of "
                        f"{NodeSet.from_names(missing)}",
                    )  # fmt: skip
        if used and not unknown:
            _check_rendered(playbook, inventory, spec, sorted(used), targets, diags)
    if diags.errors:
        raise PlaybookFileError(diags.sorted(), f"playbook {playbook.file} is invalid")


def _check_rendered(
    playbook: Playbook,
    inventory: Inventory,
    spec: ResourceSpec,
    used: list[str],
    targets: set[str],
    diags: Diagnostics,
) -> None:
    """Build the resource once per distinct set of variable values among its hosts.

    A value that does not fit its field (``mtu: "{{ mtu }}"`` with ``mtu: jumbo``) is located
    when the file is checked, not found per host at plan time.
    """
    by_values: dict[str, list[str]] = {}
    for host in targets:
        values = {**inventory.hosts[host].vars, **playbook.vars}
        key = repr([values.get(v) for v in used])
        by_values.setdefault(key, []).append(host)
    for hosts in by_values.values():
        values = {**inventory.hosts[hosts[0]].vars, **playbook.vars}
        try:
            build_resource(spec, Vars(values, playbook.secret_vars))
        except PlaybookError as exc:
            diags.error(spec.loc, "", f"{exc} (on {NodeSet.from_names(hosts)})")


def _variables_in(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list | tuple) else [raw]
    return [m.group(1) for item in items if isinstance(item, str)
            for m in VAR_PATTERN.finditer(item)]  # fmt: skip


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
    every = sorted({f.name for rt in RESOURCE_TYPES.values() for f in rt.fields})
    probe = Fields(source, node, path, diags, ("type", "hosts", *every))
    if not probe.ok:
        return None
    kind = probe.str("type")
    if kind is None:
        if "type" not in probe:
            probe.error(None, "missing required field 'type'")
        return None
    rt = RESOURCE_TYPES.get(kind)
    if rt is None:
        probe.error("type", f"unknown resource type '{kind}'{did_you_mean(kind, RESOURCE_TYPES)}")
        return None
    names = {f.name for f in rt.fields}
    ok = True
    for key in probe.entries:
        if key not in ("type", "hosts") and key not in names:
            diags.error(
                probe.key_loc(key),
                probe.field_path(key),
                f"'{key}' is not a field of {kind} ({', '.join(f.name for f in rt.fields)})",
            )
            ok = False
    params: dict[str, Any] = {}
    for spec in rt.fields:
        if spec.name not in probe:
            if spec.required:
                probe.error(None, f"{kind} needs '{spec.name}' ({spec.help})")
                ok = False
            continue
        usable, value = read_field(rt, spec, probe)
        ok = ok and usable
        params[spec.name] = value
    for group in rt.one_of:
        given = [g for g in group if g in params]
        if len(given) != 1:
            probe.error(None, f"{kind} needs exactly one of {', '.join(map(repr, group))}")
            ok = False
    hosts = probe.str("hosts")
    if not ok:
        return None
    return ResourceSpec(kind, params, source.loc(node), path, hosts, probe.loc("hosts"))


def build_resource(spec: ResourceSpec, variables: Vars) -> Resource:
    """The resource for one host, with ``{{ vars }}`` substituted and typed (PlaybookError)."""
    rt = RESOURCE_TYPES[spec.type]
    secrets: set[str] = set()
    values: dict[str, Any] = {}
    for name, raw in spec.params.items():
        field = rt.field(name)
        where = f"{spec.path}.{name}"
        if field.kind == "argv" and isinstance(raw, str):
            words = [_render(word, variables, secrets) for word in split_command(raw, where)]
            values[name] = tuple(_check_words(rt, name, words, where, secrets))
        elif field.kind == "argv" and isinstance(raw, tuple | list):
            words = [_render(str(w), variables, secrets) for w in raw]
            values[name] = tuple(_check_words(rt, name, words, where, secrets))
        elif is_template(raw):
            text = _render(raw, variables, secrets)
            try:
                values[name] = typed_after_render(rt, field, text, where)
            except PlaybookError as exc:
                raise PlaybookError(mask(str(exc), secrets)) from None
        else:
            values[name] = raw
    resource = rt.build(values)
    if secrets and hasattr(resource, "secrets"):
        resource = _with_secrets(resource, frozenset(secrets))
    return resource


def _render(text: str, variables: Vars, secrets: set[str]) -> str:
    value, used = render(text, variables)
    secrets.update(used)
    return value


def _check_words(rt: Any, name: str, words: list[str], where: str, secrets: set[str]) -> list[str]:
    for word in words:
        problem = check_value(rt.name, name, word) or argument(word)
        if problem:
            raise PlaybookError(f"{where}: {mask(problem, secrets)}")
    return words


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
