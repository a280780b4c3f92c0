"""Findings from comparing a host's probe results with its inventory profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dcctl.checks.findings import Action, Finding, Severity
from dcctl.checks.health import gpu_findings, security_findings, storage_findings
from dcctl.checks.nvlink import nvlink_findings
from dcctl.inventory.model import Profile
from dcctl.probes.gpu_model import GpuReport
from dcctl.probes.network import NetworkReport
from dcctl.probes.nvlink import NvlinkReport
from dcctl.probes.security import SecurityReport
from dcctl.probes.storage import StorageReport


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


CONFIG_SOURCE = "configuration against the inventory profile (NVIDIA datacenter guidance)"


def gpu_profile_findings(report: GpuReport, profile: Profile) -> list[Finding]:
    """Missing or extra GPUs, wrong model, driver, power limits, PCIe links."""
    spec = profile.gpu
    if spec is None or spec.count == 0:
        return []
    out: list[Finding] = []
    if not report.driver_present:
        reason = report.error or "no NVIDIA driver"
        return [
            Finding(
                Severity.critical,
                "gpu",
                "no_driver",
                f"{reason}; profile '{profile.name}' expects {spec.count} GPUs",
            )
        ]
    count = len(report.gpus)
    if count < spec.count:
        out.append(
            Finding(
                Severity.critical,
                "gpu",
                "gpu_missing",
                f"{count} of {spec.count} GPUs visible ({spec.count - count} missing)",
            )
        )
    elif count > spec.count:
        out.append(
            Finding(
                Severity.warning,
                "gpu",
                "gpu_extra",
                f"{count} GPUs visible, profile '{profile.name}' expects {spec.count}",
            )
        )
    for g in report.gpus:
        who = f"GPU{g.index}"
        if g.name and _norm(g.name) != _norm(spec.model):
            out.append(
                Finding(
                    Severity.critical,
                    "gpu",
                    "gpu_model",
                    f"model is '{g.name}', profile expects '{spec.model}'",
                    who,
                )
            )
        current, default = g.power_limit_w, g.default_power_limit_w
        if current is not None and default is not None and abs(current - default) >= 1:
            out.append(
                Finding(
                    Severity.info,
                    "gpu",
                    "power_limit_not_default",
                    f"power limit {g.power_limit_w:g} W, default {g.default_power_limit_w:g} W",
                    who,
                )
            )
        limits = spec.power_limits
        if limits and default is not None and abs(default - limits.default_w) >= 1:
            out.append(
                Finding(
                    Severity.warning,
                    "gpu",
                    "power_default_mismatch",
                    f"default power limit {g.default_power_limit_w:g} W, profile "
                    f"says {limits.default_w:g} W",
                    who,
                )
            )
        if g.pcie_width is not None and g.pcie_width_max and g.pcie_width < g.pcie_width_max:
            out.append(
                Finding(
                    Severity.warning,
                    "gpu",
                    "pcie_width_low",
                    f"PCIe link x{g.pcie_width}, capable of x{g.pcie_width_max}",
                    who,
                )
            )
        if g.pcie_gen is not None and g.pcie_gen_max and g.pcie_gen < g.pcie_gen_max:
            busy = (g.utilization_pct or 0) > 0
            # GPUs lower the link generation when idle to save power; only a busy GPU's counts.
            severity = Severity.warning if busy else Severity.info
            out.append(
                Finding(
                    severity,
                    "gpu",
                    "pcie_gen_low",
                    f"PCIe gen {g.pcie_gen}, capable of gen {g.pcie_gen_max}"
                    + ("" if busy else " (idle GPUs lower it to save power)"),
                    who,
                )
            )
    for g in report.gpus:
        who = f"GPU{g.index}" if g.index is not None else (g.pci_bus_id or "GPU")
        if spec.mig is not None and g.mig_enabled is not None and g.mig_enabled != spec.mig:
            out.append(Finding(
                Severity.warning, "gpu", "mig_mode",
                f"MIG is {'on' if g.mig_enabled else 'off'}, the profile says "
                f"{'on' if spec.mig else 'off'}", who, Action.fix_configuration, CONFIG_SOURCE,
            ))  # fmt: skip
    off = [g for g in report.gpus if g.persistence_mode is False]
    if off:
        out.append(Finding(
            Severity.warning, "gpu", "persistence_off",
            f"persistence mode off on {len(off)} GPU(s): the driver unloads between jobs "
            "(slow starts, lost state); run nvidia-persistenced",
            None, Action.fix_configuration, CONFIG_SOURCE,
        ))  # fmt: skip
    if spec.driver and report.driver_version and report.driver_version != spec.driver:
        out.append(
            Finding(
                Severity.warning,
                "gpu",
                "driver_mismatch",
                f"driver {report.driver_version}, profile expects {spec.driver}",
            )
        )
    return out


def network_profile_findings(report: NetworkReport, profile: Profile) -> list[Finding]:
    """Too few links at the profile's speed and MTU; IB ports down or slow."""
    out: list[Finding] = []
    nic = profile.nic
    if nic is not None:
        physical = [i for i in report.interfaces if i.speed_mbps is not None]
        if nic.speed_gbps is not None:
            fast = [i for i in physical if (i.speed_mbps or 0) >= nic.speed_gbps * 1000]
            wanted = nic.count or 1
            if len(fast) < wanted:
                slow = [
                    f"{i.name} {(i.speed_mbps or 0) / 1000:g}G" for i in physical if i not in fast
                ]
                extra = f" (slower: {', '.join(slow)})" if slow else ""
                out.append(
                    Finding(
                        Severity.warning,
                        "network",
                        "link_speed_low",
                        f"{len(fast)} of {wanted} links at {nic.speed_gbps:g} Gb/s or more{extra}",
                    )
                )
        if nic.mtu is not None:
            for i in physical:
                if i.mtu is not None and i.mtu < nic.mtu and i.operstate == "up":
                    out.append(
                        Finding(
                            Severity.warning,
                            "network",
                            "mtu_low",
                            f"MTU {i.mtu}, profile expects {nic.mtu}",
                            i.name,
                        )
                    )
    ib = profile.infiniband
    if ib is not None and ib.names:
        out += named_ib_findings(report, ib.names, ib.rate_gbps)
    elif ib is not None and ib.ports:
        active = [p for p in report.ib_ports if (p.state or "").upper() == "ACTIVE"]
        if len(active) < ib.ports:
            out.append(
                Finding(
                    Severity.critical,
                    "network",
                    "ib_ports_down",
                    f"{len(active)} of {ib.ports} InfiniBand ports active",
                )
            )
        if ib.rate_gbps:
            for p in active:
                if p.rate_gbps is not None and p.rate_gbps < ib.rate_gbps:
                    out.append(
                        Finding(
                            Severity.warning,
                            "network",
                            "ib_rate_low",
                            f"rate {p.rate_gbps:g} Gb/s, profile expects {ib.rate_gbps:g}",
                            f"{p.device}/{p.port}",
                        )
                    )
    return out


IB_SOURCE = "the profile's named InfiniBand ports; physical states as in ibstat(8)"


def named_ib_findings(
    report: NetworkReport, names: tuple[str, ...], rate_gbps: float | None
) -> list[Finding]:
    """Each named port: present, ACTIVE, at the profile's rate.

    Ports not named are ignored: an extra port configured as InfiniBand is not "one of nine
    down".
    """
    out: list[Finding] = []
    ports = {f"{p.device}/{p.port}": p for p in report.ib_ports}
    for name in names:
        port = ports.get(name) or ports.get(f"{name}/1")
        if port is None:
            out.append(Finding(Severity.critical, "network", "ib_port_missing",
                               f"no InfiniBand port {name}", name, Action.inspect_hardware,
                               IB_SOURCE))  # fmt: skip
            continue
        state, phys = (port.state or "?").upper(), (port.phys_state or "?").upper()
        if state != "ACTIVE":
            if "POLLING" in phys:
                why, action = "link lost: cable or switch port", Action.check_cabling
            elif "DISABLED" in phys:
                why, action = "administratively disabled", Action.fix_configuration
            else:
                why, action = f"physical state {port.phys_state or '?'}", Action.check_cabling
            out.append(Finding(Severity.critical, "network", "ib_port_down",
                               f"{state.lower()}: {why}", name, action, IB_SOURCE,
                               {"state": port.state, "phys_state": port.phys_state}))  # fmt: skip
        elif rate_gbps and port.rate_gbps is not None and port.rate_gbps < rate_gbps:
            out.append(Finding(Severity.warning, "network", "ib_rate_low",
                               f"rate {port.rate_gbps:g} Gb/s, profile expects {rate_gbps:g}",
                               name, Action.check_cabling, IB_SOURCE,
                               {"rate_gbps": port.rate_gbps}))  # fmt: skip
    return out


def evaluate(results: Mapping[str, Any], profile: Profile | None) -> list[Finding]:
    """Every finding for one host's results, most severe first."""
    out: list[Finding] = []
    gpu = results.get("gpu")
    if isinstance(gpu, GpuReport):
        out += gpu_findings(gpu)
        if profile is not None:
            out += gpu_profile_findings(gpu, profile)
    nvlink = results.get("nvlink")
    if isinstance(nvlink, NvlinkReport):
        out += nvlink_findings(nvlink, profile)
    network = results.get("network")
    if isinstance(network, NetworkReport) and profile is not None:
        out += network_profile_findings(network, profile)
    storage = results.get("storage")
    if isinstance(storage, StorageReport):
        out += storage_findings(storage)
    security = results.get("security")
    if isinstance(security, SecurityReport):
        out += security_findings(security)
    return sorted(out, key=lambda f: -f.severity)
