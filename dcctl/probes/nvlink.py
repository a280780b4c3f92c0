"""The nvlink probe: each GPU's NVLink links (speed or inactive) and their error counters.

Reads ``nvidia-smi nvlink -s`` (``GPU 0: NAME (UUID: …)`` then ``Link N: 26.562 GB/s`` or
``Link N: <inactive>``) and ``nvidia-smi nvlink -e`` (``Link N: Replay Errors: 0`` and the like).
A GPU without NVLink prints nothing, or "not supported": no links, which is right for a PCIe GPU.
The format follows NVIDIA's nvidia-smi documentation; this repository has no capture of a
machine with NVLink (the H100 capture is a single passed-through GPU, which prints nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dcctl.probes.base import Outputs, Step, recogniser, register

_GPU = re.compile(r"^GPU (\d+): (.*?)(?: \(UUID: ([^)]+)\))?\s*$")
_SPEED = re.compile(r"^\s*Link (\d+): (?:([\d.]+) GB/s|<?(inactive)>?)", re.I)
_ERROR = re.compile(r"^\s*Link (\d+): ([A-Za-z ]+?) Errors?: (\d+)", re.I)


@dataclass
class NvlinkGpu:
    """One GPU's links: speed in GB/s per link (None when inactive), error counters per link."""

    index: int
    name: str
    uuid: str | None = None
    links: dict[int, float | None] = field(default_factory=dict)
    errors: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def active(self) -> int:
        """Links that are up."""
        return sum(1 for speed in self.links.values() if speed is not None)


@dataclass
class NvlinkReport:
    """Every GPU's NVLink state, or why it could not be read."""

    gpus: list[NvlinkGpu] = field(default_factory=list)
    supported: bool = True
    error: str | None = None


class NvlinkProbe:
    """NVLink state and error counters through nvidia-smi."""

    name: str = "nvlink"
    steps: tuple[Step, ...] = (
        Step("nvlink.status", "nvidia-smi nvlink -s", recogniser(r"^nvidia-smi nvlink -s"),
             guarded=True, group="nvidia"),
        Step("nvlink.errors", "nvidia-smi nvlink -e", recogniser(r"^nvidia-smi nvlink -e"),
             guarded=True, group="nvidia"),
    )  # fmt: skip

    def summarize(self, result: NvlinkReport) -> str:
        """``8 GPUs × 18 NVLinks up`` (or the odd ones)."""
        if result.error:
            return result.error
        if not result.gpus:
            return "no NVLink"
        counts: dict[str, int] = {}
        for g in result.gpus:
            key = f"{g.active}/{len(g.links)} up"
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(f"{n} GPUs × {k}" for k, n in sorted(counts.items()))

    def parse(self, outputs: Outputs) -> NvlinkReport:
        """Links from ``-s``, counters from ``-e``."""
        status = outputs.get("nvlink.status")
        if status is None or status.missing_tool:
            return NvlinkReport(supported=False, error="nvidia-smi not found")
        if not status.ok:
            first = next((ln.strip() for ln in status.text.splitlines() if ln.strip()), "")
            if "not supported" in status.text.lower():
                return NvlinkReport(supported=False)
            return NvlinkReport(error=f"nvidia-smi nvlink -s failed: {first or status.rc}")
        report = NvlinkReport(gpus=parse_nvlink_status(status.text))
        errors = outputs.get("nvlink.errors")
        if errors is not None and errors.ok:
            counters = parse_nvlink_errors(errors.text)
            for g in report.gpus:
                g.errors = counters.get(g.index, {})
        return report


def parse_nvlink_status(text: str) -> list[NvlinkGpu]:
    """GPUs and their links from ``nvidia-smi nvlink -s``."""
    gpus: list[NvlinkGpu] = []
    for line in text.splitlines():
        m = _GPU.match(line.strip())
        if m:
            gpus.append(NvlinkGpu(int(m.group(1)), m.group(2).strip(), m.group(3)))
            continue
        s = _SPEED.match(line)
        if s and gpus:
            gpus[-1].links[int(s.group(1))] = None if s.group(3) else float(s.group(2))
    return gpus


def parse_nvlink_errors(text: str) -> dict[int, dict[int, dict[str, int]]]:
    """Per GPU, per link: counter name (``replay``, ``recovery``, ``crc``…) → count."""
    out: dict[int, dict[int, dict[str, int]]] = {}
    current: int | None = None
    for line in text.splitlines():
        m = _GPU.match(line.strip())
        if m:
            current = int(m.group(1))
            out[current] = {}
            continue
        e = _ERROR.match(line)
        if e and current is not None:
            name = e.group(2).strip().lower().replace(" ", "_")
            out[current].setdefault(int(e.group(1)), {})[name] = int(e.group(3))
    return out


register(NvlinkProbe(), order=15)
