"""Reading ``defaults:``, ``hosts:`` and ``groups:`` into declarations with locations.

Nothing is cross-checked here; :mod:`dcctl.inventory.resolve` does that once every file is read.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from yaml.nodes import Node, ScalarNode

from dcctl.errors import NodeSetError, NodeSetTooLargeError
from dcctl.inventory.model import SCHEDULER_FIELDS, SSH_FIELDS, TRANSPORTS, Setting
from dcctl.inventory.scheduler import read_scheduler
from dcctl.inventory.sources import Document
from dcctl.model.nodeset import MAX_EXPANSION, expand
from dcctl.source.diagnostics import Diagnostics, Loc
from dcctl.source.reader import Fields, Source, kind_of, mapping_items, to_plain
from dcctl.transport.target import HOST_KEY_POLICIES

#: Environment variable that raises (or lowers) the hosts one inventory file may define.
MAX_HOSTS_ENV = "DCCTL_MAX_HOSTS"

LAYER_FIELDS = ("transport", "profile", "ssh", "scheduler", "vars")
HOST_FIELDS = ("name", "address", "description", "groups", *LAYER_FIELDS)
GROUP_FIELDS = ("description", "hosts", "children", *LAYER_FIELDS)

HOST_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9_])?$")
GROUP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_DNS_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9_])?$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")
_JUMP = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_.-]*@)?[A-Za-z0-9_.:\[\]-]+(?::\d{1,5})?$")
_IPV4 = re.compile(
    r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"
)
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Layer:
    """Settings contributed by one layer: defaults, a group, or a host entry."""

    origin: str
    transport: Setting | None = None
    profile: Setting | None = None
    ssh: dict[str, Setting] = field(default_factory=dict)
    scheduler: dict[str, Setting] = field(default_factory=dict)
    vars: dict[str, Setting] = field(default_factory=dict)


@dataclass
class HostEntry:
    """One entry of ``hosts:``; its name may be a range that defines many hosts."""

    names: list[str]
    loc: Loc
    path: str
    addresses: list[str] | None
    address_loc: Loc | None
    groups: list[tuple[str, Loc]]
    layer: Layer


@dataclass
class GroupDecl:
    """One entry of ``groups:``."""

    name: str
    loc: Loc
    path: str
    order: int
    hosts: list[tuple[str, Loc]]
    children: list[tuple[str, Loc]]
    layer: Layer
    description: str | None = None


def is_address(text: str) -> bool:
    """True for an IP address or a DNS-style name."""
    if _IPV4.match(text):
        return True
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_DNS_NAME.match(text))


def read_layer(fields: Fields, origin: str) -> Layer:
    """The transport, profile, ssh, scheduler and vars fields of a mapping, as one layer."""
    layer = Layer(origin)
    transport = fields.str("transport", choices=TRANSPORTS)
    if transport is not None:
        layer.transport = Setting(transport, fields.loc("transport"), origin)
    profile = fields.str("profile")
    if profile is not None:
        layer.profile = Setting(profile, fields.loc("profile"), origin)
    ssh = fields.sub("ssh", SSH_FIELDS)
    if ssh is not None:
        layer.ssh = _read_ssh(ssh, origin)
    scheduler = fields.sub("scheduler", SCHEDULER_FIELDS)
    if scheduler is not None:
        layer.scheduler = read_scheduler(scheduler, origin)
    vars_node = fields.value_node("vars")
    if vars_node is not None:
        src, diags = fields.source, fields.diags
        vars_path = fields.field_path("vars")
        for key, key_node, value in mapping_items(src, vars_node, vars_path, diags) or []:
            path = f"{vars_path}.{key}"
            if not _VAR_NAME.match(key):
                diags.error(src.loc(key_node), path, "variable names are letters, digits and _")
                continue
            layer.vars[key] = Setting(to_plain(src, value, path, diags), src.loc(value), origin)
    return layer


def _read_ssh(fields: Fields, origin: str) -> dict[str, Setting]:
    out: dict[str, Setting] = {}

    def put(key: str, value: object) -> None:
        if value is not None:
            out[key] = Setting(value, fields.loc(key), origin)

    user = fields.str("user")
    if user is not None and not _USER.match(user):
        fields.error("user", f"'{user}' is not a valid user name")
        user = None
    put("user", user)
    put("port", fields.number("port", minimum=1, maximum=65535, integer=True))
    identity = fields.str("identity_file")
    if identity is not None and not identity.isprintable():
        # A newline here would become a directive of its own in an exported ssh_config.
        fields.error("identity_file", "must be one line of printable characters")
        identity = None
    if identity is not None and not identity.startswith(("~", "/")):
        identity = os.path.normpath(os.path.join(fields.source.directory, identity))
    put("identity_file", identity)
    jump = fields.str("proxy_jump")
    if jump is not None and jump != "none":
        bad = [hop for hop in jump.split(",") if not _JUMP.match(hop.strip())]
        if bad:
            fields.error("proxy_jump", f"'{bad[0]}' is not [user@]host[:port]")
            jump = None
    put("proxy_jump", jump)
    policy = fields.value_node("host_key_policy")
    if isinstance(policy, ScalarNode) and policy.tag == "tag:yaml.org,2002:bool":
        fields.error(
            "host_key_policy",
            "must be 'strict' or 'accept-new'; dcctl never turns host-key checking off",
        )
    else:
        put("host_key_policy", fields.str("host_key_policy", choices=HOST_KEY_POLICIES))
    put(
        "connect_timeout",
        fields.number("connect_timeout", minimum=0, maximum=3600, exclusive_minimum=True),
    )
    return out


def read_defaults(documents: Iterable[Document], diags: Diagnostics) -> Layer:
    """The ``defaults:`` layer of the root file (empty when absent)."""
    for doc in documents:
        if doc.is_root:
            fields = doc.fields.sub("defaults", LAYER_FIELDS)
            if fields is not None:
                return read_layer(fields, "defaults")
    return Layer("defaults")


def read_host_entries(
    documents: Iterable[Document], diags: Diagnostics, max_hosts: int = MAX_EXPANSION
) -> list[HostEntry]:
    """Every entry of every ``hosts:`` list, with names and addresses expanded.

    One file may define at most ``max_hosts`` hosts (and one range expand to as many): past
    that, the entry that crosses the limit is an error and the rest of the file is not read.
    """
    entries: list[HostEntry] = []
    for doc in documents:
        total = 0
        for i, node in enumerate(doc.fields.sequence("hosts") or []):
            path = f"hosts[{i}]"
            if isinstance(node, ScalarNode):
                entry = _host_from_scalar(doc.source, node, path, diags, max_hosts)
            else:
                entry = _host_from_mapping(doc.source, node, path, diags, max_hosts)
            if entry is None:
                continue
            total += len(entry.names)
            if total > max_hosts:
                diags.error(
                    entry.loc,
                    path,
                    f"{doc.source.display} defines more than {max_hosts:,} hosts, the limit "
                    f"(raise it with ${MAX_HOSTS_ENV} if this is meant)",
                )
                break
            entries.append(entry)
    return entries


def _expand_names(
    text: str, loc: Loc, path: str, diags: Diagnostics, limit: int = MAX_EXPANSION
) -> list[str] | None:
    try:
        names = expand(text, limit)
    except NodeSetTooLargeError as exc:
        diags.error(
            loc, path, f"{exc} (the limit; raise it with ${MAX_HOSTS_ENV} if this is meant)"
        )
        return None
    except NodeSetError as exc:
        diags.error(loc, path, str(exc))
        return None
    bad = [n for n in names if not HOST_NAME.match(n)]
    if bad:
        diags.error(
            loc, path, f"'{bad[0]}' is not a valid host name (letters, digits, '.', '-', '_')"
        )
        return None
    return names


def _host_from_scalar(
    source: Source, node: ScalarNode, path: str, diags: Diagnostics, limit: int
) -> HostEntry | None:
    if node.tag != "tag:yaml.org,2002:str":
        diags.error(
            source.loc(node), path, f"expected a host name or a mapping, got {kind_of(node)}"
        )
        return None
    loc = source.loc(node)
    names = _expand_names(node.value, loc, f"{path}.name", diags, limit)
    if names is None:
        return None
    return HostEntry(names, loc, path, None, None, [], Layer(f"host entry {path}"))


def _host_from_mapping(
    source: Source, node: Node, path: str, diags: Diagnostics, limit: int
) -> HostEntry | None:
    fields = Fields(source, node, path, diags, HOST_FIELDS, required=("name",))
    if not fields.ok:
        return None
    name = fields.str("name")
    layer = read_layer(fields, f"host entry {path}")
    groups = fields.str_list("groups") or []
    if name is None:
        return None
    names = _expand_names(name, fields.loc("name"), fields.field_path("name"), diags, limit)
    if names is None:
        return None
    addresses = None
    address = fields.str("address")
    if address is not None:
        addresses = _expand_addresses(address, len(names), fields, limit)
    return HostEntry(
        names,
        source.loc(node),
        path,
        addresses,
        fields.loc("address") if address is not None else None,
        groups,
        layer,
    )


def _expand_addresses(pattern: str, count: int, fields: Fields, limit: int) -> list[str] | None:
    if "[" not in pattern:
        if count > 1:
            fields.error(
                "address",
                f"one address for {count} hosts; write a pattern such as 10.0.0.[1-{count}]",
            )
            return None
        addresses = [pattern]
    else:
        try:
            addresses = expand(pattern, limit)
        except NodeSetError as exc:
            fields.error("address", str(exc))
            return None
        if len(addresses) != count:
            fields.error("address", f"pattern gives {len(addresses)} addresses for {count} hosts")
            return None
    bad = [a for a in addresses if not is_address(a)]
    if bad:
        fields.error("address", f"'{bad[0]}' is not an IP address or host name")
        return None
    return addresses


def read_group_decls(documents: Iterable[Document], diags: Diagnostics) -> dict[str, GroupDecl]:
    """Every group of every file; a group defined twice is an error at the second."""
    decls: dict[str, GroupDecl] = {}
    for doc in documents:
        node = doc.fields.value_node("groups")
        if node is None:
            continue
        for name, key_node, value in mapping_items(doc.source, node, "groups", diags) or []:
            path = f"groups.{name}"
            loc = doc.source.loc(key_node)
            if name in decls:
                diags.error(loc, path, f"group '{name}' is already defined at {decls[name].loc}")
                continue
            if not GROUP_NAME.match(name) or name == "all":
                diags.error(
                    loc, path, f"'{name}' is not a usable group name (letters, digits, . _ -)"
                )
                continue
            fields = Fields(doc.source, value, path, diags, GROUP_FIELDS)
            if not fields.ok:
                continue
            decls[name] = GroupDecl(
                name=name,
                loc=loc,
                path=path,
                order=len(decls),
                hosts=fields.str_list("hosts") or [],
                children=fields.str_list("children") or [],
                layer=read_layer(fields, f"group '{name}'"),
                description=fields.str("description"),
            )
    return decls
