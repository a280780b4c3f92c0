"""The system probe: OS, kernel, uptime, CPU (``lscpu -J``), memory, load."""

from __future__ import annotations

import json
from dataclasses import dataclass

from dcctl.probes.base import Outputs, Step, recogniser, register


@dataclass
class SystemReport:
    """Operating system and machine facts."""

    hostname: str | None = None
    kernel: str | None = None
    arch: str | None = None
    os_name: str | None = None
    os_id: str | None = None
    os_version: str | None = None
    cpu_model: str | None = None
    cpus: int | None = None
    sockets: int | None = None
    cores_per_socket: int | None = None
    threads_per_core: int | None = None
    numa_nodes: int | None = None
    memory_total_kib: int | None = None
    memory_available_kib: int | None = None
    swap_total_kib: int | None = None
    uptime_s: float | None = None
    load_1m: float | None = None
    load_5m: float | None = None
    load_15m: float | None = None


class SystemProbe:
    """OS, kernel, CPU, memory, uptime and load."""

    name: str = "system"
    steps: tuple[Step, ...] = (
        Step("sys.uname", "uname -a", recogniser(r"^uname -a")),
        Step("sys.os", "cat /etc/os-release", recogniser(r"os-release")),
        Step("sys.cpu", "lscpu -J", recogniser(r"^lscpu -J")),
        Step("sys.mem", "cat /proc/meminfo", recogniser(r"/proc/meminfo")),
        Step("sys.load", "cat /proc/uptime /proc/loadavg", recogniser(r"/proc/uptime")),
    )

    def summarize(self, result: SystemReport) -> str:
        """One line for folding identical hosts (see :func:`summarize_system`)."""
        return summarize_system(result)

    def parse(self, outputs: Outputs) -> SystemReport:
        """Fill what each output gives; a missing output leaves its fields None."""
        report = SystemReport()
        if (out := outputs.get("sys.uname")) is not None and out.ok:
            parts = out.text.split()
            if len(parts) >= 3:
                report.hostname, report.kernel = parts[1], parts[2]
            if len(parts) >= 2 and parts[-1] == "GNU/Linux":
                report.arch = parts[-2]
        if (out := outputs.get("sys.os")) is not None and out.ok:
            release = parse_os_release(out.text)
            report.os_name = release.get("PRETTY_NAME") or release.get("NAME")
            report.os_id = release.get("ID")
            report.os_version = release.get("VERSION_ID")
        if (out := outputs.get("sys.cpu")) is not None and out.ok:
            cpu = parse_lscpu(out.text)
            report.cpu_model = cpu.get("Model name")
            report.arch = report.arch or cpu.get("Architecture")
            report.cpus = _int(cpu.get("CPU(s)"))
            report.sockets = _int(cpu.get("Socket(s)"))
            report.cores_per_socket = _int(cpu.get("Core(s) per socket"))
            report.threads_per_core = _int(cpu.get("Thread(s) per core"))
            report.numa_nodes = _int(cpu.get("NUMA node(s)"))
        if (out := outputs.get("sys.mem")) is not None and out.ok:
            mem = parse_meminfo(out.text)
            report.memory_total_kib = mem.get("MemTotal")
            report.memory_available_kib = mem.get("MemAvailable")
            report.swap_total_kib = mem.get("SwapTotal")
        if (out := outputs.get("sys.load")) is not None and out.ok:
            lines = out.text.split("\n")
            try:
                report.uptime_s = float(lines[0].split()[0])
                load = lines[1].split()
                report.load_1m, report.load_5m, report.load_15m = (float(x) for x in load[:3])
            except (IndexError, ValueError):
                pass
        return report


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of /etc/os-release, quotes removed."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def parse_lscpu(text: str) -> dict[str, str]:
    """``lscpu -J`` as a flat field → value mapping (children flattened)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    out: dict[str, str] = {}

    def walk(items: list[dict[str, object]]) -> None:
        for item in items:
            name = str(item.get("field", "")).rstrip(":").strip()
            if name and item.get("data") is not None:
                out.setdefault(name, str(item["data"]))
            children = item.get("children")
            if isinstance(children, list):
                walk(children)

    walk(data.get("lscpu", []) if isinstance(data, dict) else [])
    return out


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo in KiB (``MemTotal: 131981020 kB`` → ``{"MemTotal": 131981020}``)."""
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def summarize_system(r: SystemReport) -> str:
    """OS, kernel, CPU and memory."""
    cpu = f"{r.cpus} CPUs" if r.cpus else "? CPUs"
    if r.cpu_model:
        cpu = f"{cpu} ({r.cpu_model})"
    return f"{r.os_name or '?'}, kernel {r.kernel or '?'}, {cpu}, {_gib(r.memory_total_kib)}"


def _gib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024 / 1024:.0f} GiB"


register(SystemProbe(), order=30)
