"""Reading the physical tree (sites → rooms → rows → racks → PDUs, feeds) and ``domains:``.

Host references are checked against the defined hosts: a host may sit in one rack only and in
one domain of each kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dcctl.inventory.model import DOMAIN_KINDS, Domain, Feed, Pdu, Rack, Room, Row, Site
from dcctl.inventory.read_hosts import GROUP_NAME
from dcctl.inventory.references import expand_host_refs
from dcctl.inventory.sources import Document
from dcctl.model.nodeset import NodeSet
from dcctl.source.diagnostics import Diagnostics, Loc, did_you_mean
from dcctl.source.reader import Fields

_SITE_FIELDS = ("name", "description", "feeds", "rooms")
_FEED_FIELDS = ("name", "panel", "voltage", "amps", "phase", "max_utilization")
_ROOM_FIELDS = ("name", "rows", "racks")
_ROW_FIELDS = ("name", "racks")
_RACK_FIELDS = ("name", "hosts", "pdus", "power_budget_w")
_PDU_FIELDS = ("name", "feed", "hosts", "max_w")
_DOMAIN_FIELDS = ("name", "kind", "hosts")


@dataclass
class PhysicalTree:
    """The physical and domain layout, plus per-host lookups."""

    sites: dict[str, Site] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    racks: dict[str, Rack] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    pdus: dict[str, Pdu] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)
    host_rack: dict[str, str] = field(default_factory=dict)
    host_pdus: dict[str, list[str]] = field(default_factory=dict)
    host_domains: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class _PendingPdu:
    fields: Fields
    name: str
    rack: str
    feed: str | None
    hosts: list[str]
    max_w: float | None
    loc: Loc


class _Reader:
    def __init__(self, known_hosts: Mapping[str, object], diags: Diagnostics) -> None:
        self.known = known_hosts
        self.diags = diags
        self.tree = PhysicalTree()
        self.names: dict[str, dict[str, Loc]] = {}
        self.pending_pdus: list[_PendingPdu] = []
        self.rack_hosts_loc: dict[str, Loc] = {}

    def claim(self, kind: str, name: str | None, fields: Fields) -> str | None:
        """Register a unique name of a kind; report duplicates and bad names."""
        if name is None:
            return None
        if not GROUP_NAME.match(name):
            fields.error("name", f"'{name}' is not a usable name (letters, digits, . _ -)")
            return None
        seen = self.names.setdefault(kind, {})
        if name in seen:
            fields.error("name", f"{kind} '{name}' is already defined at {seen[name]}")
            return None
        seen[name] = fields.loc("name")
        return name

    def items(self, fields: Fields, key: str, allowed: tuple[str, ...]) -> Iterable[Fields]:
        for i, node in enumerate(fields.sequence(key) or []):
            sub = Fields(
                fields.source,
                node,
                f"{fields.field_path(key)}[{i}]",
                self.diags,
                allowed,
                ("name",),
            )
            if sub.ok:
                yield sub

    # -- sites ---------------------------------------------------------------------------

    def site(self, fields: Fields) -> None:
        name = self.claim("site", fields.str("name"), fields)
        feeds = [
            f
            for f in (self.feed(sub, name) for sub in self.items(fields, "feeds", _FEED_FIELDS))
            if f
        ]
        rooms = [
            r
            for r in (self.room(sub, name) for sub in self.items(fields, "rooms", _ROOM_FIELDS))
            if r
        ]
        if name is not None:
            self.tree.sites[name] = Site(
                name, tuple(rooms), tuple(feeds), fields.loc("name"), fields.str("description")
            )

    def feed(self, fields: Fields, site: str | None) -> str | None:
        name = self.claim("feed", fields.str("name"), fields)
        voltage = fields.number("voltage", minimum=0, maximum=100_000, exclusive_minimum=True)
        amps = fields.number("amps", minimum=0, maximum=100_000, exclusive_minimum=True)
        phase = fields.str("phase", choices=("single", "three"))
        util = fields.number("max_utilization", minimum=0, maximum=100, exclusive_minimum=True)
        for key in ("voltage", "amps"):
            if key not in fields:
                fields.error(None, f"missing required field '{key}'")
        if name is None or site is None or voltage is None or amps is None:
            return None
        self.tree.feeds[name] = Feed(
            name=name,
            site=site,
            voltage=voltage,
            amps=amps,
            phase=phase or "single",  # type: ignore[arg-type]
            max_utilization=util if util is not None else 80.0,
            loc=fields.loc("name"),
            panel=fields.str("panel"),
            path=fields.path,
        )
        return name

    def room(self, fields: Fields, site: str | None) -> str | None:
        name = self.claim("room", fields.str("name"), fields)
        rows = [
            r
            for r in (self.row(sub, site, name) for sub in self.items(fields, "rows", _ROW_FIELDS))
            if r
        ]
        racks = [
            r
            for r in (
                self.rack(sub, site, name, None)
                for sub in self.items(fields, "racks", _RACK_FIELDS)
            )
            if r
        ]
        if name is None or site is None:
            return None
        self.tree.rooms[name] = Room(name, site, tuple(rows), tuple(racks), fields.loc("name"))
        return name

    def row(self, fields: Fields, site: str | None, room: str | None) -> str | None:
        name = self.claim("row", fields.str("name"), fields)
        racks = [
            r
            for r in (
                self.rack(sub, site, room, name)
                for sub in self.items(fields, "racks", _RACK_FIELDS)
            )
            if r
        ]
        if name is None or site is None or room is None:
            return None
        self.tree.rows[name] = Row(name, site, room, tuple(racks), fields.loc("name"))
        return name

    def rack(
        self, fields: Fields, site: str | None, room: str | None, row: str | None
    ) -> str | None:
        name = self.claim("rack", fields.str("name"), fields)
        hosts = expand_host_refs(
            fields.str_list("hosts") or [], fields.field_path("hosts"), self.known, self.diags
        )
        budget = fields.number(
            "power_budget_w", minimum=0, maximum=10_000_000, exclusive_minimum=True
        )
        pdus = [
            p for p in (self.pdu(sub, name) for sub in self.items(fields, "pdus", _PDU_FIELDS)) if p
        ]
        if name is None:
            return None
        for host in hosts:
            other = self.tree.host_rack.get(host)
            if other is not None:
                fields.error(
                    "hosts",
                    f"host '{host}' is already in rack '{other}' ({self.rack_hosts_loc[other]})",
                )
                continue
            self.tree.host_rack[host] = name
        self.rack_hosts_loc[name] = fields.loc("hosts")
        if site is not None and room is not None:
            mine = NodeSet.from_names(h for h in hosts if self.tree.host_rack.get(h) == name)
            self.tree.racks[name] = Rack(
                name, site, room, row, mine, tuple(pdus), fields.loc("name"), budget, fields.path
            )
        return name

    def pdu(self, fields: Fields, rack: str | None) -> str | None:
        name = self.claim("pdu", fields.str("name"), fields)
        feed = fields.str("feed")
        if "feed" not in fields and fields.ok:
            fields.error(None, "missing required field 'feed'")
        hosts = expand_host_refs(
            fields.str_list("hosts") or [], fields.field_path("hosts"), self.known, self.diags
        )
        max_w = fields.number("max_w", minimum=0, maximum=10_000_000, exclusive_minimum=True)
        if name is None or rack is None:
            return None
        self.pending_pdus.append(
            _PendingPdu(fields, name, rack, feed, hosts, max_w, fields.loc("name"))
        )
        return name

    def finish_pdus(self) -> None:
        """Resolve PDU feeds once every site's feeds are known."""
        for p in self.pending_pdus:
            if p.feed is not None and p.feed not in self.tree.feeds:
                p.fields.error(
                    "feed", f"unknown feed '{p.feed}'{did_you_mean(p.feed, self.tree.feeds)}"
                )
                continue
            for host in p.hosts:
                host_rack = self.tree.host_rack.get(host)
                if host_rack != p.rack:
                    where = f"sits in rack '{host_rack}'" if host_rack else "is in no rack"
                    p.fields.warning(
                        "hosts", f"host '{host}' is powered from rack '{p.rack}' but {where}"
                    )
                self.tree.host_pdus.setdefault(host, []).append(p.name)
            if p.feed is not None:
                self.tree.pdus[p.name] = Pdu(
                    p.name,
                    p.rack,
                    p.feed,
                    NodeSet.from_names(p.hosts),
                    p.loc,
                    p.max_w,
                    p.fields.path,
                )

    # -- domains -------------------------------------------------------------------------

    def domain(self, fields: Fields) -> None:
        name = self.claim("domain", fields.str("name"), fields)
        kind = fields.str("kind", choices=DOMAIN_KINDS)
        if "kind" not in fields and fields.ok:
            fields.error(None, "missing required field 'kind'")
        hosts = expand_host_refs(
            fields.str_list("hosts") or [], fields.field_path("hosts"), self.known, self.diags
        )
        if "hosts" not in fields:
            fields.error(None, "missing required field 'hosts'")
        if name is None or kind is None:
            return
        for host in hosts:
            mine = self.tree.host_domains.setdefault(host, {})
            if kind in mine:
                other = self.tree.domains[mine[kind]]
                fields.error(
                    "hosts",
                    f"host '{host}' is already in {kind} domain '{other.name}' ({other.loc})",
                )
                continue
            mine[kind] = name
        members = NodeSet.from_names(
            h for h in hosts if self.tree.host_domains[h].get(kind) == name
        )
        self.tree.domains[name] = Domain(name, kind, members, fields.loc("name"))


def read_physical(
    documents: Iterable[Document], known_hosts: Mapping[str, object], diags: Diagnostics
) -> PhysicalTree:
    """Read ``sites:`` and ``domains:`` of every file, checking host references."""
    reader = _Reader(known_hosts, diags)
    documents = list(documents)
    for doc in documents:
        for sub in reader.items(doc.fields, "sites", _SITE_FIELDS):
            reader.site(sub)
    reader.finish_pdus()
    for doc in documents:
        for sub in reader.items(doc.fields, "domains", _DOMAIN_FIELDS):
            reader.domain(sub)
    return reader.tree
