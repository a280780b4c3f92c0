"""Cross-checking declarations and layering settings into resolved hosts.

Settings layer from weakest to strongest: ``defaults`` → groups (parents before children, then
in declaration order) → the host's own entry. Each resolved setting keeps its origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dcctl.errors import SelectionError
from dcctl.inventory.model import SSH_FIELDS, Group, Host, Profile, Setting
from dcctl.inventory.read_hosts import GroupDecl, HostEntry, Layer
from dcctl.inventory.read_physical import PhysicalTree
from dcctl.inventory.references import expand_host_refs
from dcctl.inventory.scheduler import scheduler_settings
from dcctl.inventory.selection import GroupIndex
from dcctl.model.nodeset import NodeSet
from dcctl.source.diagnostics import Diagnostics, Loc, did_you_mean
from dcctl.transport.target import SshSettings


@dataclass(frozen=True)
class Definition:
    """Where a host is defined: its entry and its position in the entry's range."""

    entry: HostEntry
    index: int


def define_hosts(entries: Iterable[HostEntry], diags: Diagnostics) -> dict[str, Definition]:
    """Map each host name to its one definition; a second definition is an error."""
    defined: dict[str, Definition] = {}
    for entry in entries:
        for i, name in enumerate(entry.names):
            first = defined.get(name)
            if first is not None:
                diags.error(
                    entry.loc,
                    f"{entry.path}.name",
                    f"duplicate host '{name}' (already defined at {first.entry.loc}, "
                    f"{first.entry.path})",
                )
                continue
            defined[name] = Definition(entry, i)
    return defined


def physical_groups(tree: PhysicalTree) -> dict[str, dict[str, NodeSet]]:
    """Auto groups from the physical tree, by kind.

    Kinds: ``site``, ``room``, ``row``, ``rack``, ``pdu``, ``feed`` and one per domain kind
    (``nvlink``, ``leaf_switch``, ...).
    """
    racks = {name: rack.hosts for name, rack in tree.racks.items()}

    def union(names: Iterable[str]) -> NodeSet:
        out: set[str] = set()
        for name in names:
            out |= racks.get(name, NodeSet()).names
        return NodeSet.from_names(out)

    rows = {name: union(row.racks) for name, row in tree.rows.items()}
    rooms = {
        name: union([*room.racks, *(r for row in room.rows for r in tree.rows[row].racks)])
        for name, room in tree.rooms.items()
    }
    sites = {
        name: NodeSet.from_names(h for room in site.rooms for h in rooms.get(room, NodeSet()))
        for name, site in tree.sites.items()
    }
    pdus = {name: pdu.hosts for name, pdu in tree.pdus.items()}
    feeds: dict[str, set[str]] = {name: set() for name in tree.feeds}
    for pdu in tree.pdus.values():
        feeds[pdu.feed] |= pdu.hosts.names
    groups: dict[str, dict[str, NodeSet]] = {
        "site": sites,
        "room": rooms,
        "row": rows,
        "rack": racks,
        "pdu": pdus,
        "feed": {name: NodeSet.from_names(h) for name, h in feeds.items()},
    }
    for domain in tree.domains.values():
        groups.setdefault(domain.kind, {})[domain.name] = domain.hosts
    return groups


class _GroupResolver:
    """Resolves group members depth first, reporting cycles and unknown children.

    A class rather than recursive closures: those form reference cycles that keep the whole
    parsed inventory alive until the cyclic collector runs.
    """

    def __init__(
        self,
        decls: dict[str, GroupDecl],
        tagged: dict[str, set[str]],
        defined: dict[str, Definition],
        auto: dict[str, dict[str, NodeSet]],
        diags: Diagnostics,
    ) -> None:
        self.decls = decls
        self.tagged = tagged
        self.defined = defined
        self.diags = diags
        self.members: dict[str, NodeSet] = {}
        self.visiting: list[str] = []
        self.broken: set[str] = set()  # a bad reference: "names no hosts" would be noise
        self.auto_index = GroupIndex({}, auto, NodeSet.from_names(defined))
        self.parents: dict[str, list[str]] = {name: [] for name in decls}
        for name, decl in decls.items():
            for child, _ in decl.children:
                child = child.removeprefix("@")
                if child in self.parents:
                    self.parents[child].append(name)
        self.depths: dict[str, int] = {}

    def members_of(self, name: str) -> NodeSet:
        """Hosts of a group, resolving its children first."""
        if name in self.members:
            return self.members[name]
        decl, diags = self.decls[name], self.diags
        self.visiting.append(name)
        errors_before = len(diags.items)
        path = f"{decl.path}.hosts"
        hosts = set(expand_host_refs(decl.hosts, path, self.defined, diags, allow_globs=True))
        hosts |= self.tagged[name]
        for child, loc in decl.children:
            child = child.removeprefix("@")
            if child in self.visiting:
                cycle = " → ".join([*self.visiting[self.visiting.index(child) :], child])
                diags.error(loc, f"{decl.path}.children", f"group cycle: {cycle}")
            elif child in self.decls:
                hosts |= self.members_of(child).names
            else:
                hosts |= self._auto_child(child, loc, decl)
        self.visiting.pop()
        if len(diags.items) != errors_before:
            self.broken.add(name)
        self.members[name] = NodeSet.from_names(hosts)
        return self.members[name]

    def _auto_child(self, child: str, loc: Loc, decl: GroupDecl) -> frozenset[str]:
        try:
            return self.auto_index.resolve(child).names
        except SelectionError as exc:
            msg = str(exc)
            if msg.startswith("unknown group"):
                names = [*self.decls, *self.auto_index.names()]
                msg = f"unknown group '{child}'{did_you_mean(child, names)}"
            self.diags.error(loc, f"{decl.path}.children", msg)
            return frozenset()

    def depth(self, name: str, trail: tuple[str, ...] = ()) -> int:
        """0 for a top-level group, one more than its deepest parent otherwise."""
        if name not in self.depths:
            ups = [p for p in self.parents[name] if p not in trail]
            self.depths[name] = 1 + max((self.depth(p, (*trail, name)) for p in ups), default=-1)
        return self.depths[name]


def resolve_groups(
    decls: dict[str, GroupDecl],
    entries: Iterable[HostEntry],
    defined: dict[str, Definition],
    auto: dict[str, dict[str, NodeSet]],
    diags: Diagnostics,
) -> dict[str, Group]:
    """Members and depth of every group; reports unknown references, cycles, empty groups."""
    tagged: dict[str, set[str]] = {name: set() for name in decls}
    for entry in entries:
        for group, loc in entry.groups:
            if group not in decls:
                hint = did_you_mean(group, decls)
                diags.error(loc, f"{entry.path}.groups", f"unknown group '{group}'{hint}")
                continue
            tagged[group].update(n for n in entry.names if defined[n].entry is entry)
    resolver = _GroupResolver(decls, tagged, defined, auto, diags)
    groups: dict[str, Group] = {}
    for name, decl in decls.items():
        members = resolver.members_of(name)
        if not members and name not in resolver.broken:
            diags.error(decl.loc, decl.path, f"group '{name}' names no hosts")
        groups[name] = Group(
            name=name,
            hosts=members,
            children=tuple(c.removeprefix("@") for c, _ in decl.children),
            depth=resolver.depth(name),
            loc=decl.loc,
            description=decl.description,
        )
    return groups


def check_profile_refs(
    layers: Iterable[Layer], profiles: dict[str, Profile], diags: Diagnostics
) -> None:
    """Report every layer that names an unknown profile, once per layer."""
    for layer in layers:
        ref = layer.profile
        if ref is not None and ref.value not in profiles:
            path = _layer_path(layer, "profile")
            diags.error(
                ref.loc, path, f"unknown profile '{ref.value}'{did_you_mean(ref.value, profiles)}"
            )


def _layer_path(layer: Layer, key: str) -> str:
    origin = layer.origin
    if origin.startswith("host entry "):
        return f"{origin.removeprefix('host entry ')}.{key}"
    if origin.startswith("group '"):
        return f"groups.{origin[7:-1]}.{key}"
    return f"defaults.{key}"


@dataclass(frozen=True)
class _Layered:
    """What a host's layers resolve to; shared by hosts with the same entry and groups."""

    transport: Setting
    profile: Setting | None
    ssh: SshSettings
    ssh_settings: dict[str, Setting]
    scheduler: dict[str, Setting]
    vars: dict[str, Any]
    vars_settings: dict[str, Setting]


def _layer(layers: list[Layer], profiles: dict[str, Profile]) -> _Layered:
    transport = Setting("ssh", None, "built-in default")
    profile = None
    ssh_values: dict[str, Setting] = {}
    scheduler_values: dict[str, Setting] = {}
    vars_values: dict[str, Setting] = {}
    for layer in layers:
        if layer.transport is not None:
            transport = layer.transport
        if layer.profile is not None and layer.profile.value in profiles:
            profile = layer.profile
        ssh_values.update(layer.ssh)
        scheduler_values.update(layer.scheduler)
        vars_values.update(layer.vars)
    return _Layered(
        transport=transport,
        profile=profile,
        ssh=SshSettings(**{k: ssh_values[k].value for k in SSH_FIELDS if k in ssh_values}),
        ssh_settings={f"ssh.{k}": v for k, v in ssh_values.items()},
        scheduler=scheduler_values,
        vars={k: v.value for k, v in vars_values.items()},
        vars_settings={f"vars.{k}": v for k, v in vars_values.items()},
    )


def build_hosts(
    defined: dict[str, Definition],
    defaults: Layer,
    decls: dict[str, GroupDecl],
    groups: dict[str, Group],
    profiles: dict[str, Profile],
    tree: PhysicalTree,
) -> dict[str, Host]:
    """Resolve every host's settings through its layers."""
    ordered = sorted(groups.values(), key=lambda g: (g.depth, decls[g.name].order))
    host_groups: dict[str, list[str]] = {name: [] for name in defined}
    for group in ordered:
        for host in group.hosts.names:
            host_groups[host].append(group.name)
    cache: dict[tuple[int, tuple[str, ...]], _Layered] = {}
    no_address = Setting(None, None, "host name (no address set)")
    hosts: dict[str, Host] = {}
    for name, definition in defined.items():
        entry = definition.entry
        member_of = tuple(host_groups[name])
        key = (id(entry), member_of)
        layered = cache.get(key)
        if layered is None:
            layers = [defaults, *(decls[g].layer for g in member_of), entry.layer]
            layered = cache[key] = _layer(layers, profiles)
        if entry.addresses is not None:
            address = entry.addresses[definition.index]
            address_setting = Setting(address, entry.address_loc, f"host entry {entry.path}")
        else:
            address = name
            address_setting = Setting(name, None, no_address.origin)
        settings: dict[str, Setting] = {"address": address_setting, "transport": layered.transport}
        if layered.profile is not None:
            settings["profile"] = layered.profile
        rack = tree.host_rack.get(name)
        if rack is not None:
            r = tree.racks.get(rack)
            settings["rack"] = Setting(rack, r.loc if r else None, "physical tree")
        pdus = tuple(tree.host_pdus.get(name, ()))
        if pdus:
            first = tree.pdus.get(pdus[0])
            settings["pdus"] = Setting(list(pdus), first.loc if first else None, "physical tree")
        domains = dict(tree.host_domains.get(name, {}))
        for kind, domain in domains.items():
            settings[f"domain.{kind}"] = Setting(domain, tree.domains[domain].loc, "domains")
        settings.update(layered.ssh_settings)
        settings.update({f"scheduler.{k}": v for k, v in layered.scheduler.items()})
        scheduler = scheduler_settings(name, layered.scheduler)
        if "node_name" in layered.scheduler:
            pattern = layered.scheduler["node_name"]
            settings["scheduler.node"] = Setting(scheduler.node_name, pattern.loc, "node_name")
        settings.update(layered.vars_settings)
        hosts[name] = Host(
            name=name,
            address=address,
            transport=layered.transport.value,
            profile=layered.profile.value if layered.profile else None,
            groups=member_of,
            rack=rack,
            pdus=pdus,
            domains=domains,
            ssh=layered.ssh,
            vars=dict(layered.vars),
            settings=settings,
            loc=entry.loc,
            scheduler=scheduler,
        )
    return hosts
