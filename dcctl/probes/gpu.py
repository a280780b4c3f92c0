"""The gpu probe: nvidia-smi's CSV query (``-q -x`` when that fails), processes, topology, Xids."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from dcctl.errors import ProbeError
from dcctl.probes.base import Output, Outputs, Step, recogniser, register
from dcctl.probes.gpu_model import GpuReport, XidEvent
from dcctl.probes.gpu_query import parse_apps, parse_query, query_command
from dcctl.probes.gpu_xml import parse_xml

#: The driver's own verdict, in its own step: a driver that does not know these fields (before
#: the 570 series) fails only this step, never the main query.
VERDICT_COMMAND = (
    "nvidia-smi --query-gpu=index,gpu_recovery_action,temperature.gpu.tlimit "
    "--format=csv,noheader,nounits"
)
APPS_COMMAND = (
    "nvidia-smi --query-compute-apps=gpu_uuid,pid,process_name,used_memory "
    "--format=csv,noheader,nounits"
)
_XID = re.compile(r"Xid \((?:PCI:)?([0-9A-Fa-f:.]+)\)(?: GPU-I:\d+)?: (\d+)")
#: Xid 79 is also logged without the Xid token: ``NVRM: GPU 0000:18:00.0: GPU has fallen off``.
_OFF_THE_BUS = re.compile(
    r"NVRM: GPU (?:at PCI:)?([0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}(?:\.[0-9A-Fa-f])?):? "
    r"GPU has fallen off the bus"
)
_DMESG_TIME = re.compile(r"^\[\s*(\d+\.\d+)\]")
_NO_DRIVER = (
    "couldn't communicate with the nvidia driver",
    "nvidia-smi has failed",
    "no devices were found",
    "driver/library version mismatch",
)


class GpuProbe:
    """NVIDIA GPUs through nvidia-smi."""

    name: str = "gpu"
    steps: tuple[Step, ...] = (
        Step(
            "gpu.query",
            query_command(),
            recogniser(r"^nvidia-smi .*--query-gpu="),
            guarded=True,
            group="nvidia",
        ),
        Step(
            "gpu.xml",
            "nvidia-smi -q -x",
            recogniser(r"^nvidia-smi -q -x\b|^nvidia-smi -x -q\b"),
            fallback_for="gpu.query",
            guarded=True,
            group="nvidia",
        ),
        Step(
            "gpu.apps",
            APPS_COMMAND,
            recogniser(r"^nvidia-smi .*--query-compute-apps="),
            guarded=True,
            group="nvidia",
        ),
        Step(
            "gpu.topo",
            "nvidia-smi topo -m",
            recogniser(r"^nvidia-smi topo -m"),
            guarded=True,
            group="nvidia",
        ),
        Step(
            "gpu.verdict",
            VERDICT_COMMAND,
            recogniser(r"^nvidia-smi .*--query-gpu=index,gpu_recovery_action"),
            guarded=True,
            group="nvidia",
        ),
        Step(
            "gpu.xid",
            "dmesg 2>&1 | grep -i -E 'xid|nvrm' | tail -50",
            recogniser(r"dmesg.*xid|journalctl.*xid"),
            timeout=10,
        ),
    )

    def summarize(self, result: GpuReport) -> str:
        """One line for folding identical hosts (see :func:`summarize_gpu`)."""
        return summarize_gpu(result)

    def parse(self, outputs: Outputs) -> GpuReport:
        """Build the GPU report from whichever outputs are present."""
        query, xml = outputs.get("gpu.query"), outputs.get("gpu.xml")
        report = _from_query(query) if query is not None and query.ok else None
        if report is None and xml is not None and xml.ok:
            report = _from_xml(xml)
        if report is None:
            report = _no_gpu_report(query or xml)
        if not report.driver_present:
            return report
        apps = outputs.get("gpu.apps")
        if apps is not None and apps.ok:
            report.processes = parse_apps(apps.text, apps.command)
        topo = outputs.get("gpu.topo")
        if topo is not None and topo.ok:
            report.topology = parse_topology(topo.text)
        xid = outputs.get("gpu.xid")
        if xid is not None:
            report.xid_events = parse_xid(xid.text)
        verdict = outputs.get("gpu.verdict")
        if verdict is not None and verdict.ok:
            by_index = parse_verdict(verdict.text)
            report.gpus = [
                replace(g, recovery_action=by_index[g.index][0],
                        thermal_margin_c=by_index[g.index][1])
                if g.index in by_index else g
                for g in report.gpus
            ]  # fmt: skip
        return report


def _from_query(output: Output) -> GpuReport | None:
    gpus, notes = parse_query(output.text, output.command)
    if not gpus:
        return None
    driver = gpus[0].driver_version
    return GpuReport(True, "nvidia-smi --query-gpu", driver, None, gpus, notes=notes)


def _from_xml(output: Output) -> GpuReport | None:
    try:
        gpus, driver, cuda = parse_xml(output.text)
    except ProbeError as exc:
        return GpuReport(True, "nvidia-smi -q -x", error=str(exc))
    return GpuReport(True, "nvidia-smi -q -x", driver, cuda, gpus)


def _no_gpu_report(output: Output | None) -> GpuReport:
    """The report when nvidia-smi gave nothing usable: no driver, no GPUs, or an error."""
    if output is None:
        return GpuReport(False, error="no nvidia-smi output")
    first = next((line.strip() for line in output.text.splitlines() if line.strip()), "")
    if output.missing_tool:
        return GpuReport(False, error="no NVIDIA driver: nvidia-smi not found")
    if output.timed_out:
        return GpuReport(False, error="nvidia-smi did not answer in time (driver hung?)")
    lowered = output.text.lower()
    if any(marker in lowered for marker in _NO_DRIVER):
        return GpuReport(False, error=f"no NVIDIA driver: {first}")
    if output.ok:
        return GpuReport(True, "nvidia-smi --query-gpu", notes=["nvidia-smi listed no GPUs"])
    return GpuReport(False, error=f"nvidia-smi failed (rc={output.rc}): {first}")


def parse_topology(text: str) -> dict[str, dict[str, str]]:
    """The ``nvidia-smi topo -m`` matrix, per GPU: link to each peer, CPU and NUMA affinity.

    ``{"GPU0": {"GPU1": "NV18", "cpu_affinity": "0-15", ...}}``
    """
    clean = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line for line in clean.splitlines() if line.strip()]
    if not lines:
        return {}
    header = [h.strip() for h in lines[0].split("\t") if h.strip()]
    matrix: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        if not re.match(r"^(GPU|NIC|mlx)\S*\t", line):
            if line.startswith("Legend"):
                break
            continue
        cells = line.split("\t")
        name, values = cells[0].strip(), [c.strip() for c in cells[1:]]
        if not name.startswith("GPU"):
            continue
        row: dict[str, str] = {}
        for column, value in zip(header, values, strict=False):
            key = {
                "CPU Affinity": "cpu_affinity",
                "NUMA Affinity": "numa_affinity",
                "GPU NUMA ID": "gpu_numa_id",
            }.get(column, column)
            row[key] = value
        matrix[name] = row
    return matrix


def parse_verdict(text: str) -> dict[int, tuple[str | None, float | None]]:
    """Per GPU index: the recovery action and the thermal margin (None where N/A)."""
    out: dict[int, tuple[str | None, float | None]] = {}
    for row in text.splitlines():
        cells = [c.strip() for c in row.split(",")]
        if len(cells) != 3 or not cells[0].isdigit():
            continue
        action = cells[1] if cells[1] and not cells[1].startswith("[") else None
        margin = cells[2].split()[0] if cells[2] else ""
        value = float(margin) if margin.lstrip("-").replace(".", "", 1).isdigit() else None
        out[int(cells[0])] = (action, value)
    return out


def parse_xid(text: str) -> list[XidEvent]:
    """NVIDIA Xid errors in kernel-log lines, with dmesg's time since boot when printed.

    The PCI prefix is optional on older drivers, MIG adds ``GPU-I:NN``; "GPU has fallen off the
    bus" without an Xid token is Xid 79.
    """
    events = []
    for line in text.splitlines():
        stamp = _DMESG_TIME.match(line)
        when = float(stamp.group(1)) if stamp else None
        m = _XID.search(line)
        if m:
            events.append(XidEvent(int(m.group(2)), m.group(1), line.strip(), when))
            continue
        off = _OFF_THE_BUS.search(line)
        if off:
            events.append(XidEvent(79, off.group(1), line.strip(), when))
    return events


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


register(GpuProbe(), order=10)
