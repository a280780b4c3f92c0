"""One-line summaries of probe results (to fold identical hosts), and host JSON documents."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields, is_dataclass
from typing import Any

from dcctl.probes.gather import HostReport
from dcctl.probes.gpu_model import GpuReport
from dcctl.probes.network import NetworkReport
from dcctl.probes.security import SecurityReport
from dcctl.probes.storage import VIRTUAL_FS, StorageReport
from dcctl.probes.system import SystemReport


def _gib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024 / 1024:.0f} GiB"


def summarize_gpu(r: GpuReport) -> str:
    """``8× NVIDIA H100 80GB HBM3, driver 580.159.04, PCIe 5×16`` or why there are none."""
    if not r.driver_present:
        return r.error or "no NVIDIA driver"
    if not r.gpus:
        return "no GPUs"
    models = Counter(g.name or "?" for g in r.gpus)
    parts = [", ".join(f"{n}× {m}" for m, n in models.items())]
    if r.driver_version:
        parts.append(f"driver {r.driver_version}")
    links = Counter(
        f"PCIe {g.pcie_gen_max}×{g.pcie_width_max}"
        for g in r.gpus
        if g.pcie_gen_max is not None and g.pcie_width_max is not None
    )
    if links:
        parts.append(", ".join(links))
    modes = []
    if any(g.mig_enabled for g in r.gpus):
        modes.append("MIG on")
    if any(g.ecc_enabled is False for g in r.gpus):
        modes.append("ECC off")
    if any(g.persistence_mode is False for g in r.gpus):
        modes.append("persistence off")
    return ", ".join(parts + modes)


def summarize_network(r: NetworkReport) -> str:
    """Links that have a speed (physical), with speed and MTU; IB ports by state and rate."""
    links = Counter(
        f"{i.speed_mbps / 1000:g}G mtu {i.mtu} {i.operstate or '?'}"
        for i in r.interfaces
        if i.speed_mbps
    )
    parts = [f"{n}× {k}" for k, n in sorted(links.items())] or [
        f"{len([i for i in r.interfaces if i.name != 'lo'])} interfaces, no link speeds"
    ]
    if r.ib_ports:
        ib = Counter(f"{p.rate_gbps:g}G {p.state}" for p in r.ib_ports)
        parts.append("IB " + ", ".join(f"{n}× {k}" for k, n in sorted(ib.items())))
    return "; ".join(parts)


def summarize_system(r: SystemReport) -> str:
    """OS, kernel, CPU and memory."""
    cpu = f"{r.cpus} CPUs" if r.cpus else "? CPUs"
    if r.cpu_model:
        cpu = f"{cpu} ({r.cpu_model})"
    return f"{r.os_name or '?'}, kernel {r.kernel or '?'}, {cpu}, {_gib(r.memory_total_kib)}"


def summarize_storage(r: StorageReport) -> str:
    """Disks and the fullest real filesystem."""
    disks = [d for d in r.devices if d.type == "disk" and (d.size_bytes or 0) > 0]
    real = [f for f in r.filesystems if f.fstype not in VIRTUAL_FS and f.use_pct is not None]
    fullest = max(real, key=lambda f: f.use_pct or 0, default=None)
    text = f"{len(disks)} disks"
    if fullest is not None:
        text += f", fullest {fullest.mountpoint} {fullest.use_pct:g}%"
    return text


def summarize_security(r: SecurityReport) -> str:
    """Root-login and password settings of sshd, and listening sockets."""
    if r.sshd:
        sshd = (
            f"sshd root login {r.sshd.get('permitrootlogin', '?')}, "
            f"passwords {r.sshd.get('passwordauthentication', '?')}"
        )
    else:
        sshd = f"sshd: {r.sshd_error or 'no settings'}"
    return f"{sshd}; {len(r.listeners)} listening sockets"


SUMMARIES = {
    "gpu": summarize_gpu,
    "network": summarize_network,
    "system": summarize_system,
    "storage": summarize_storage,
    "security": summarize_security,
}


def summarize(name: str, result: Any) -> str:
    """The summary line of one probe's result."""
    fn = SUMMARIES.get(name)
    return fn(result) if fn else str(result)


_SCALARS = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """Dataclasses, lists and dicts as JSON-ready data (like ``asdict``, without deep copies)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(f.name for f in fields(value))
        out = {name: getattr(value, name) for name in names}
        for name, item in out.items():
            if not isinstance(item, _SCALARS):
                out[name] = plain(item)
        return out
    return value


_FIELDS: dict[type, tuple[str, ...]] = {}


def report_document(report: HostReport) -> dict[str, Any]:
    """One host's JSON document: status, results, findings, errors, timings."""
    return {
        "host": report.host,
        "status": report.status.value,
        "results": {k: plain(v) for k, v in report.results.items()},
        "findings": [f.to_dict() for f in report.findings],
        "errors": report.errors,
        "timings": report.timings,
    }
