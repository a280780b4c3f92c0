"""The known-good state of each host, and what drifted from it since.

``dcctl health baseline save`` records, per host, what should not change on its own: per GPU
(by PCI bus ID) its serial, UUID, VBIOS, PCIe link at its best, NVLinks up, and its lifetime
error counters; the driver; NICs and InfiniBand ports with their rates. ``dcctl health
--baseline FILE`` then reports drift as findings: a GPU gone, a GPU swapped (another serial in
the slot), firmware or driver changed, a link slower than at baseline, lifetime counters grown
(judged by their increase, not forever).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dcctl.checks.findings import Action, Finding, Severity
from dcctl.errors import BaselineFileError
from dcctl.probes.gpu_model import GpuReport
from dcctl.probes.network import NetworkReport
from dcctl.probes.nvlink import NvlinkReport
from dcctl.source.diagnostics import Diagnostics, Loc

SCHEMA = "dcctl.health.baseline/1"
SOURCE = "the host's baseline"


def host_baseline(results: Mapping[str, Any]) -> dict[str, Any]:
    """What a host looks like now, as a baseline entry (JSON-ready)."""
    entry: dict[str, Any] = {}
    gpu = results.get("gpu")
    if isinstance(gpu, GpuReport) and gpu.driver_present:
        entry["driver"] = gpu.driver_version
        nvlink = results.get("nvlink")
        links: dict[int, int] = {}
        nvlink_errors: dict[int, dict[str, int]] = {}
        if isinstance(nvlink, NvlinkReport):
            links = {g.index: g.active for g in nvlink.gpus}
            for g in nvlink.gpus:
                totals: dict[str, int] = {}
                for counters in g.errors.values():
                    for name, count in counters.items():
                        totals[name] = totals.get(name, 0) + count
                nvlink_errors[g.index] = totals
        entry["gpus"] = {
            g.pci_bus_id or f"index{g.index}": {
                "index": g.index,
                "serial": g.serial,
                "uuid": g.uuid,
                "vbios": g.vbios_version,
                "pcie_gen_max": g.pcie_gen_max,
                "pcie_width_max": g.pcie_width_max,
                "nvlinks_up": links.get(g.index) if g.index is not None else None,
                "nvlink_errors": nvlink_errors.get(g.index, {}) if g.index is not None else {},
                "ecc_uncorrected_aggregate": g.ecc_uncorrected_aggregate,
                "remapped_rows_uncorrectable": g.remapped_rows_uncorrectable,
            }
            for g in gpu.gpus
        }
    network = results.get("network")
    if isinstance(network, NetworkReport):
        entry["nics"] = {i.name: i.speed_mbps for i in network.interfaces if i.speed_mbps}
        entry["ib_ports"] = {f"{p.device}/{p.port}": p.rate_gbps for p in network.ib_ports}
    return entry


def baseline_document(hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A baseline file's content."""
    return {"schema": SCHEMA, "hosts": {h: dict(v) for h, v in sorted(hosts.items())}}


def read_baseline(path: Path) -> dict[str, dict[str, Any]]:
    """Per host, its baseline entry; a file that is not a baseline is a located error."""
    diags = Diagnostics()
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        diags.error(None, "", f"{path}: cannot read: {exc.strerror or exc}")
        raise BaselineFileError(diags.items) from None
    except json.JSONDecodeError as exc:
        diags.error(Loc(str(path), exc.lineno, exc.colno), "", f"not JSON: {exc.msg}")
        raise BaselineFileError(diags.items) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        diags.error(Loc(str(path), 1, 1), "schema", f"not a dcctl baseline (expected {SCHEMA})")
        raise BaselineFileError(diags.items)
    hosts = data.get("hosts")
    if not isinstance(hosts, dict) or not all(isinstance(v, dict) for v in hosts.values()):
        diags.error(Loc(str(path), 1, 1), "hosts", "expected a mapping of host → entry")
        raise BaselineFileError(diags.items)
    return hosts


def drift_findings(now: Mapping[str, Any], was: Mapping[str, Any]) -> list[Finding]:
    """What changed from the baseline entry ``was`` to the state ``now`` (both entries)."""
    out: list[Finding] = []

    def add(severity: Severity, code: str, message: str, subject: str | None,
            action: Action, **evidence: Any) -> None:  # fmt: skip
        out.append(Finding(severity, "baseline", code, message, subject, action, SOURCE,
                           evidence))  # fmt: skip

    if was.get("driver") and now.get("driver") and was["driver"] != now["driver"]:
        add(Severity.warning, "driver_changed", f"driver {was['driver']} → {now['driver']}",
            None, Action.none, was=was["driver"], now=now["driver"])  # fmt: skip
    gpus_was, gpus_now = was.get("gpus") or {}, now.get("gpus") or {}
    for bus, before in sorted(gpus_was.items()):
        after = gpus_now.get(bus)
        if after is None:
            add(Severity.critical, "gpu_gone", "a GPU of the baseline is gone", bus,
                Action.inspect_hardware, serial=before.get("serial"))  # fmt: skip
            continue
        if before.get("serial") and after.get("serial") and before["serial"] != after["serial"]:
            add(Severity.warning, "gpu_swapped",
                f"another GPU in this slot: serial {before['serial']} → {after['serial']} "
                "(save a new baseline if the swap was intended)",
                bus, Action.none, was=before["serial"], now=after["serial"])  # fmt: skip
            continue  # a new GPU: its counters and firmware start afresh
        if before.get("vbios") and after.get("vbios") and before["vbios"] != after["vbios"]:
            add(Severity.warning, "vbios_changed", f"VBIOS {before['vbios']} → {after['vbios']}",
                bus, Action.none, was=before["vbios"], now=after["vbios"])  # fmt: skip
        for key, what in (("pcie_gen_max", "PCIe generation"), ("pcie_width_max", "PCIe width")):
            if _lower(after.get(key), before.get(key)):
                add(Severity.warning, "pcie_slower_than_baseline",
                    f"{what} {before[key]} → {after[key]}", bus, Action.inspect_hardware,
                    was=before[key], now=after[key])  # fmt: skip
        if _lower(after.get("nvlinks_up"), before.get("nvlinks_up")):
            add(Severity.critical, "nvlinks_fewer_than_baseline",
                f"NVLinks up {before['nvlinks_up']} → {after['nvlinks_up']}", bus,
                Action.reset_gpu, was=before["nvlinks_up"], now=after["nvlinks_up"])  # fmt: skip
        for key, severity, action in (
            ("ecc_uncorrected_aggregate", Severity.critical, Action.reset_gpu),
            ("remapped_rows_uncorrectable", Severity.warning, Action.monitor),
        ):
            grown = _growth(after.get(key), before.get(key))
            if grown:
                add(severity, f"{key}_grown",
                    f"{key.replace('_', ' ')} grew by {grown} since the baseline "
                    f"({before[key]} → {after[key]})",
                    bus, action, was=before[key], now=after[key])  # fmt: skip
        out.extend(_nvlink_growth(after.get("nvlink_errors"), before.get("nvlink_errors"), bus))
    for bus in sorted(set(gpus_now) - set(gpus_was)):
        add(Severity.warning, "gpu_new", "a GPU not in the baseline", bus, Action.none)
    groups = (("nics", "nic_slower_than_baseline"), ("ib_ports", "ib_slower_than_baseline"))
    for group, code in groups:
        before_g, after_g = was.get(group) or {}, now.get(group) or {}
        for name, rate in sorted(before_g.items()):
            if name not in after_g:
                add(Severity.critical if group == "ib_ports" else Severity.warning,
                    code.replace("slower_than", "gone_since"), f"{name} is gone", name,
                    Action.check_cabling)  # fmt: skip
            elif _lower(after_g[name], rate):
                add(Severity.warning, code, f"{name}: {rate} → {after_g[name]}", name,
                    Action.check_cabling, was=rate, now=after_g[name])  # fmt: skip
    return out


def _nvlink_growth(now: Any, was: Any, bus: str) -> list[Finding]:
    """NVLink error counters grown since the baseline.

    Any new replay or recovery error fails the link (DCGM); new CRC errors are a warning.
    """
    if not isinstance(now, dict) or not isinstance(was, dict):
        return []
    grown = {k: now[k] - was.get(k, 0) for k in now if isinstance(now[k], int)
             and now[k] > was.get(k, 0)}  # fmt: skip
    if not grown:
        return []
    hard = any("replay" in k or "recovery" in k for k in grown)
    text = ", ".join(f"{k.replace('_', ' ')} +{v}" for k, v in sorted(grown.items()))
    return [Finding(
        Severity.critical if hard else Severity.warning, "baseline", "nvlink_errors_grown",
        f"NVLink errors since the baseline: {text}", bus,
        Action.reset_gpu if hard else Action.monitor,
        "DCGM health watch (new NVLink replay/recovery errors fail, CRC warn), against the "
        "host's baseline", dict(sorted(grown.items())),
    )]  # fmt: skip


def _lower(now: Any, was: Any) -> bool:
    return isinstance(now, int | float) and isinstance(was, int | float) and now < was


def _growth(now: Any, was: Any) -> int:
    if isinstance(now, int) and isinstance(was, int) and now > was:
        return now - was
    return 0
