"""Xid errors judged by NVIDIA's catalogue, shipped as data (``xid_catalog.json``, versioned).

Time semantics: the kernel log the probe reads holds the events since the last boot (dmesg's
ring buffer), so every finding is "since boot". Events are deduplicated by (GPU, code) with a
count and the first and last time seen. Two workflows of the catalogue are applied: Xid 48 (a
double-bit ECC error) followed by Xid 63 or 64 on the same GPU means drain and reset; Xid 154
carries the driver's recovery action in its text, which then is the action.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from dcctl.checks.findings import Action, Finding, Severity
from dcctl.probes.gpu_model import XidEvent

_RECOVERY = re.compile(r"recovery action changed.*?to 0x[0-9a-f]+ \(([^)]*)\)", re.I)


@dataclass(frozen=True)
class XidEntry:
    """One catalogue entry: the Xid's name, NVIDIA's immediate action, and how dcctl rates it."""

    code: int
    name: str
    immediate_action: str
    severity: Severity
    action: Action


@dataclass(frozen=True)
class XidCatalog:
    """NVIDIA's Xid catalogue, as shipped with dcctl."""

    version: str
    source: str
    entries: dict[int, XidEntry]


@lru_cache(maxsize=1)
def load_catalog() -> XidCatalog:
    """The catalogue data file of this dcctl."""
    raw = json.loads(resources.files("dcctl.checks").joinpath("xid_catalog.json").read_text())
    actions = raw["actions"]
    entries = {}
    for code, entry in raw["codes"].items():
        rated = actions[entry["immediate_action"]]
        entries[int(code)] = XidEntry(
            int(code),
            entry["name"],
            entry["immediate_action"],
            Severity[rated["severity"]],
            Action(rated["action"]),
        )
    return XidCatalog(raw["version"], raw["source"], entries)


def xid_findings(events: list[XidEvent], catalog: XidCatalog | None = None) -> list[Finding]:
    """One finding per (GPU, Xid) since boot, rated by the catalogue and its workflows."""
    catalog = catalog or load_catalog()
    source = f"NVIDIA Xid catalogue ({catalog.version})"
    groups: dict[tuple[str | None, int], list[XidEvent]] = {}
    for event in events:
        groups.setdefault((event.pci, event.code), []).append(event)
    codes_by_gpu: dict[str | None, list[tuple[float, int]]] = {}
    for event in events:
        codes_by_gpu.setdefault(event.pci, []).append((event.time_s or 0.0, event.code))
    out = []
    for (pci, code), seen in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        entry = catalog.entries.get(code)
        severity = entry.severity if entry else Severity.warning
        action = entry.action if entry else Action.monitor
        name = entry.name if entry else "not in the catalogue this dcctl ships"
        why = f"catalogue action {entry.immediate_action}" if entry else "unknown code: monitor"
        if code == 48 and _followed_by(codes_by_gpu.get(pci, []), 48, (63, 64)):
            severity, action = Severity.critical, Action.drain_and_reset
            why = "Xid 48 followed by 63/64 on the same GPU: drain and reset (catalogue workflow)"
        if code == 154:
            wanted = _recovery_action(seen[-1].text)
            if wanted is not None:
                action = wanted
                severity = Severity.info if wanted is Action.none else Severity.critical
                why = f"the driver's recovery action: {action.value}"
        times = [e.time_s for e in seen if e.time_s is not None]
        evidence = {
            "code": code,
            "count": len(seen),
            "first_seen_s": min(times) if times else None,
            "last_seen_s": max(times) if times else None,
            "since": "boot",
            "line": seen[-1].text,
        }
        count = f" ({len(seen)}× since boot)" if len(seen) > 1 else " (since boot)"
        out.append(
            Finding(
                severity,
                "gpu",
                f"xid_{code}",
                f"Xid {code}: {name}{count}; {why}",
                pci,
                action,
                source,
                evidence,
            )
        )
    return out


def _followed_by(timeline: list[tuple[float, int]], first: int, then: tuple[int, ...]) -> bool:
    """True when ``first`` happened and one of ``then`` at or after it."""
    times = [t for t, c in timeline if c == first]
    return bool(times) and any(c in then and t >= min(times) for t, c in timeline)


def _recovery_action(text: str) -> Action | None:
    """The action named by an Xid 154 line ("... to 0x1 (GPU Reset Required)")."""
    m = _RECOVERY.search(text)
    if not m:
        return None
    words = m.group(1).lower()
    if "none" in words:
        return Action.none
    if "drain" in words:
        return Action.drain_and_reset
    if "reboot" in words or "restart" in words:
        return Action.reboot_node
    if "reset" in words:
        return Action.reset_gpu
    return Action.inspect_hardware
