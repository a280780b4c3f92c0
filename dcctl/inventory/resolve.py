"""Cross-checking declarations and layering settings into resolved hosts.

Settings layer from weakest to strongest: ``defaults`` → groups (parents before children, then
in declaration order) → the host's own entry. Each resolved setting keeps its origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dcctl.errors import SelectionError
from dcctl.inventory.diagnostics import Diagnostics, did_you_mean
from dcctl.inventory.model import SSH_FIELDS, Group, Host, Profile, Setting, SshSettings
from dcctl.inventory.read_hosts import GroupDecl, HostEntry, Layer
from dcctl.inventory.read_physical import PhysicalTree
from dcctl.inventory.references import expand_host_refs
from dcctl.inventory.selection import GroupIndex
from dcctl.model.nodeset import NodeSet


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

    members: dict[str, NodeSet] = {}
    depth: dict[str, int] = {}
    visiting: list[str] = []
    broken: set[str] = set()  # groups with a bad reference: "names no hosts" would be noise
    auto_index = GroupIndex({}, auto, NodeSet.from_names(defined))

    def visit(name: str) -> NodeSet:
        if name in members:
            return members[name]
        decl = decls[name]
        visiting.append(name)
        errors_before = len(diags.items)
        hosts = set(
            expand_host_refs(decl.hosts, f"{decl.path}.hosts", defined, diags, allow_globs=True)
        )
        hosts |= tagged[name]
        for child, loc in decl.children:
            child = child.removeprefix("@")
            if child in visiting:
                cycle = " → ".join([*visiting[visiting.index(child) :], child])
                diags.error(loc, f"{decl.path}.children", f"group cycle: {cycle}")
                continue
            if child in decls:
                hosts |= visit(child).names
                continue
            try:
                hosts |= auto_index.resolve(child).names
            except SelectionError as exc:
                msg = str(exc)
                if msg.startswith("unknown group"):
                    names = [*decls, *auto_index.names()]
                    msg = f"unknown group '{child}'{did_you_mean(child, names)}"
                diags.error(loc, f"{decl.path}.children", msg)
        visiting.pop()
        if len(diags.items) != errors_before:
            broken.add(name)
        members[name] = NodeSet.from_names(hosts)
        return members[name]

    for name in decls:
        visit(name)
    parents: dict[str, list[str]] = {name: [] for name in decls}
    for name, decl in decls.items():
        for child, _ in decl.children:
            child = child.removeprefix("@")
            if child in parents:
                parents[child].append(name)

    def depth_of(name: str, trail: tuple[str, ...] = ()) -> int:
        if name not in depth:
            ups = [p for p in parents[name] if p not in trail]
            depth[name] = 1 + max((depth_of(p, (*trail, name)) for p in ups), default=-1)
        return depth[name]

    groups: dict[str, Group] = {}
    for name, decl in decls.items():
        if not members[name] and name not in broken:
            diags.error(decl.loc, decl.path, f"group '{name}' names no hosts")
        groups[name] = Group(
            name=name,
            hosts=members[name],
            children=tuple(c.removeprefix("@") for c, _ in decl.children),
            depth=depth_of(name),
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
    hosts: dict[str, Host] = {}
    for name, definition in defined.items():
        entry = definition.entry
        layers = [defaults, *(decls[g].layer for g in host_groups[name]), entry.layer]
        settings: dict[str, Setting] = {}
        if entry.addresses is not None:
            address = entry.addresses[definition.index]
            settings["address"] = Setting(address, entry.address_loc, f"host entry {entry.path}")
        else:
            address = name
            settings["address"] = Setting(name, None, "host name (no address set)")
        settings["transport"] = Setting("ssh", None, "built-in default")
        ssh_values: dict[str, Setting] = {}
        vars_values: dict[str, Setting] = {}
        for layer in layers:
            if layer.transport is not None:
                settings["transport"] = layer.transport
            if layer.profile is not None and layer.profile.value in profiles:
                settings["profile"] = layer.profile
            ssh_values.update(layer.ssh)
            vars_values.update(layer.vars)
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
        for key, value in ssh_values.items():
            settings[f"ssh.{key}"] = value
        for key, value in vars_values.items():
            settings[f"vars.{key}"] = value
        ssh = SshSettings(**{k: ssh_values[k].value for k in SSH_FIELDS if k in ssh_values})
        profile = settings.get("profile")
        hosts[name] = Host(
            name=name,
            address=address,
            transport=settings["transport"].value,
            profile=profile.value if profile else None,
            groups=tuple(host_groups[name]),
            rack=rack,
            pdus=pdus,
            domains=domains,
            ssh=ssh,
            vars={k: v.value for k, v in vars_values.items()},
            settings=settings,
            loc=entry.loc,
        )
    return hosts
