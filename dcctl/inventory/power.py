"""Nominal power draw through the tree, and the budget checks the loader makes.

A host's nominal draw comes from its profile (``nominal_w``, else ``baseline_w`` + GPUs × TDP).
A host on several PDUs (dual-corded) is counted as splitting its draw evenly between them.
Feeds offer NetBox's available power: V × A × max_utilization% (× √3 for three-phase).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from dcctl.inventory.model import Feed, Host, Pdu, Profile, Rack
from dcctl.model.nodeset import NodeSet
from dcctl.source.diagnostics import Diagnostics


@dataclass(frozen=True)
class PowerSummary:
    """Nominal draw in watts at every level of the tree."""

    host_w: dict[str, float | None]
    pdu_w: dict[str, float] = field(default_factory=dict)
    feed_w: dict[str, float] = field(default_factory=dict)
    rack_w: dict[str, float] = field(default_factory=dict)
    unknown_draw: NodeSet = field(default_factory=NodeSet)

    def total_w(self, racks: list[str]) -> float:
        """Sum of the nominal draw of some racks."""
        return sum(self.rack_w.get(r, 0.0) for r in racks)


def summarize(
    hosts: dict[str, Host],
    profiles: dict[str, Profile],
    racks: dict[str, Rack],
    pdus: dict[str, Pdu],
) -> PowerSummary:
    """Compute nominal draw per host, PDU, feed and rack."""
    host_w: dict[str, float | None] = {}
    for name, host in hosts.items():
        profile = profiles.get(host.profile) if host.profile else None
        host_w[name] = profile.nominal_w if profile else None
    pdu_w: dict[str, float] = defaultdict(float)
    feed_w: dict[str, float] = defaultdict(float)
    for pdu in pdus.values():
        pdu_w[pdu.name] += 0.0
        feed_w[pdu.feed] += 0.0
        for host_name in pdu.hosts.names:
            draw = host_w.get(host_name)
            if draw is None:
                continue
            share = draw / max(1, len(hosts[host_name].pdus))
            pdu_w[pdu.name] += share
            feed_w[pdu.feed] += share
    rack_w = {name: sum(host_w.get(h) or 0.0 for h in rack.hosts) for name, rack in racks.items()}
    unknown = NodeSet.from_names(
        h for h, w in host_w.items() if w is None and (hosts[h].pdus or hosts[h].rack)
    )
    return PowerSummary(host_w, dict(pdu_w), dict(feed_w), rack_w, unknown)


def kw(watts: float | None) -> str:
    """Watts as kilowatts for messages: ``40.8 kW`` (``?`` when unknown)."""
    return "?" if watts is None else f"{watts / 1000:.1f} kW"


def check_power(
    summary: PowerSummary,
    feeds: dict[str, Feed],
    pdus: dict[str, Pdu],
    racks: dict[str, Rack],
    hosts: dict[str, Host],
    diags: Diagnostics,
) -> None:
    """Report PDUs and feeds loaded past what they can carry, and racks past their budget."""
    for pdu in pdus.values():
        load = summary.pdu_w.get(pdu.name, 0.0)
        feed = feeds.get(pdu.feed)
        if feed is not None and load > feed.available_w:
            diags.error(
                pdu.loc,
                pdu.path,
                f"PDU '{pdu.name}' nominal load {kw(load)} exceeds feed '{feed.name}' "
                f"available {kw(feed.available_w)} ({feed.formula()})",
            )
        if pdu.max_w is not None and load > pdu.max_w:
            diags.error(
                pdu.loc,
                pdu.path,
                f"PDU '{pdu.name}' nominal load {kw(load)} exceeds its rating {kw(pdu.max_w)}",
            )
    for feed in feeds.values():
        load = summary.feed_w.get(feed.name, 0.0)
        if load > feed.available_w:
            diags.error(
                feed.loc,
                feed.path,
                f"feed '{feed.name}' carries {kw(load)} nominal across its PDUs, more than its "
                f"available {kw(feed.available_w)} ({feed.formula()})",
            )
    unknown = [h for h in summary.unknown_draw if hosts[h].pdus]
    if unknown:
        diags.warning(
            hosts[unknown[0]].loc,
            "",
            f"{NodeSet.from_names(unknown)}: no profile with power figures (nominal_w, or "
            "baseline_w and gpu.tdp_w); counted as 0 W in PDU and feed loads",
        )
    for rack in racks.values():
        load = summary.rack_w.get(rack.name, 0.0)
        if rack.power_budget_w is not None and load > rack.power_budget_w:
            diags.warning(
                rack.loc,
                rack.path,
                f"rack '{rack.name}' nominal draw {kw(load)} exceeds its budget "
                f"{kw(rack.power_budget_w)}; GPUs will need power caps (dcctl plan power)",
            )
        if rack.pdus:
            unpowered = [h for h in rack.hosts if not hosts[h].pdus]
            if unpowered:
                diags.warning(
                    rack.loc,
                    rack.path,
                    f"{NodeSet.from_names(unpowered)} in rack '{rack.name}' are on no PDU; "
                    "their draw counts against no feed",
                )
