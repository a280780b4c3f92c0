"""Plain-data views of an inventory, shared by the JSON output and the Rich renderers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from dcctl.inventory.model import Host, Inventory, Rack, Room, Row, Site
from dcctl.inventory.power import PowerSummary, summarize
from dcctl.model.nodeset import NodeSet


def host_record(inventory: Inventory, host: Host) -> dict[str, Any]:
    """One host as a JSON-ready mapping (what ``inventory list --output json`` prints)."""
    rack = inventory.racks.get(host.rack) if host.rack else None
    feeds = sorted({inventory.pdus[p].feed for p in host.pdus if p in inventory.pdus})
    return {
        "name": host.name,
        "address": host.address,
        "transport": host.transport,
        "profile": host.profile,
        "groups": list(host.groups),
        "site": rack.site if rack else None,
        "room": rack.room if rack else None,
        "row": rack.row if rack else None,
        "rack": host.rack,
        "pdus": list(host.pdus),
        "feeds": feeds,
        "domains": dict(host.domains),
        "ssh": {k: v for k, v in asdict(host.ssh).items() if v is not None},
    }


def host_settings(inventory: Inventory, host: Host) -> list[dict[str, Any]]:
    """Every resolved setting of a host with the place it came from."""
    rows: list[dict[str, Any]] = [
        {"setting": "name", "value": host.name, "source": str(host.loc), "origin": "host entry"}
    ]
    for key, setting in host.settings.items():
        if key == "pdus":
            for pdu in setting.value:
                p = inventory.pdus[pdu]
                rows.append(
                    {
                        "setting": "pdu",
                        "value": f"{pdu} (feed {p.feed})",
                        "source": str(p.loc),
                        "origin": "physical tree",
                    }
                )
            continue
        rows.append(
            {
                "setting": key,
                "value": setting.value,
                "source": str(setting.loc) if setting.loc else None,
                "origin": setting.origin,
            }
        )
        if key == "rack":
            rack = inventory.racks[setting.value]
            for level, name in (("row", rack.row), ("room", rack.room), ("site", rack.site)):
                if name is None:
                    continue
                tiers: dict[str, Mapping[str, Row | Room | Site]] = {
                    "row": inventory.rows,
                    "room": inventory.rooms,
                    "site": inventory.sites,
                }
                obj = tiers[level][name]
                rows.append(
                    {
                        "setting": level,
                        "value": name,
                        "source": str(obj.loc),
                        "origin": "physical tree",
                    }
                )
    for group in host.groups:
        g = inventory.groups[group]
        rows.append(
            {"setting": "group", "value": group, "source": str(g.loc), "origin": f"group '{group}'"}
        )
    order = {"name": 0, "address": 1, "transport": 2, "profile": 3, "group": 4}
    rows.sort(key=lambda r: (order.get(r["setting"], 5), 0))
    return rows


def _share(used: float, budget: float | None) -> float | None:
    return round(100.0 * used / budget, 1) if budget else None


def _rack_view(inventory: Inventory, rack: Rack, power: PowerSummary) -> dict[str, Any]:
    by_profile: dict[str | None, list[str]] = {}
    for host in rack.hosts:
        by_profile.setdefault(inventory.hosts[host].profile, []).append(host)
    nominal = power.rack_w.get(rack.name, 0.0)
    return {
        "name": rack.name,
        "nominal_w": nominal,
        "budget_w": rack.power_budget_w,
        "used_pct": _share(nominal, rack.power_budget_w),
        "hosts": str(rack.hosts),
        "host_count": len(rack.hosts),
        "host_groups": [
            {
                "hosts": str(NodeSet.from_names(names)),
                "count": len(names),
                "profile": profile,
                "nominal_w_each": power.host_w.get(names[0]),
            }
            for profile, names in by_profile.items()
        ],
        "pdus": [
            {
                "name": pdu,
                "feed": inventory.pdus[pdu].feed,
                "nominal_w": power.pdu_w.get(pdu, 0.0),
                "max_w": inventory.pdus[pdu].max_w,
                "used_pct": _share(power.pdu_w.get(pdu, 0.0), inventory.pdus[pdu].max_w),
                "hosts": str(inventory.pdus[pdu].hosts),
            }
            for pdu in rack.pdus
            if pdu in inventory.pdus
        ],
    }


def power_tree(inventory: Inventory, power: PowerSummary | None = None) -> dict[str, Any]:
    """Site → feeds / rooms → rows → racks → PDUs, with nominal draw against budgets."""
    power = power or summarize(inventory.hosts, inventory.profiles, inventory.racks, inventory.pdus)
    sites = []
    for site in inventory.sites.values():
        feeds = []
        for name in site.feeds:
            feed = inventory.feeds[name]
            load = power.feed_w.get(name, 0.0)
            feeds.append(
                {
                    "name": name,
                    "panel": feed.panel,
                    "voltage": feed.voltage,
                    "amps": feed.amps,
                    "phase": feed.phase,
                    "max_utilization": feed.max_utilization,
                    "available_w": round(feed.available_w, 1),
                    "nominal_w": load,
                    "used_pct": _share(load, feed.available_w),
                    "formula": feed.formula(),
                }
            )
        rooms: list[dict[str, Any]] = []
        for room_name in site.rooms:
            room = inventory.rooms[room_name]
            rows = []
            for row_name in room.rows:
                row = inventory.rows[row_name]
                racks = [_rack_view(inventory, inventory.racks[r], power) for r in row.racks]
                rows.append(
                    {"name": row_name, "nominal_w": power.total_w(list(row.racks)), "racks": racks}
                )
            racks = [_rack_view(inventory, inventory.racks[r], power) for r in room.racks]
            all_racks = [*room.racks, *(r for row in room.rows for r in inventory.rows[row].racks)]
            rooms.append(
                {
                    "name": room_name,
                    "nominal_w": power.total_w(all_racks),
                    "rows": rows,
                    "racks": racks,
                }
            )
        sites.append(
            {
                "name": site.name,
                "description": site.description,
                "nominal_w": sum(r["nominal_w"] for r in rooms),
                "feeds": feeds,
                "rooms": rooms,
            }
        )
    unplaced = NodeSet.from_names(h for h, host in inventory.hosts.items() if host.rack is None)
    return {
        "sites": sites,
        "unplaced": str(unplaced),
        "unknown_draw": str(power.unknown_draw),
    }
