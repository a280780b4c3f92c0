"""Parsing ``nvidia-smi --query-gpu=… --format=csv[,noheader][,nounits]``.

The field list is read from the command line itself, so a bundle made with any field list (or
an older driver's names, such as ``clocks_throttle_reasons.active``) parses.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from dcctl.probes import gpu_values as v
from dcctl.probes.gpu_model import GpuInfo, GpuProcess, decode_clock_events

#: The fields dcctl asks for (accepted by drivers from R535 on; see docs).
QUERY_FIELDS: tuple[str, ...] = (
    "index",
    "uuid",
    "name",
    "serial",
    "pci.bus_id",
    "driver_version",
    "vbios_version",
    "pstate",
    "temperature.gpu",
    "temperature.memory",
    "power.draw",
    "power.limit",
    "enforced.power.limit",
    "power.default_limit",
    "power.min_limit",
    "power.max_limit",
    "memory.total",
    "memory.used",
    "utilization.gpu",
    "utilization.memory",
    "clocks.sm",
    "clocks.max.sm",
    "clocks.mem",
    "pcie.link.gen.current",
    "pcie.link.gen.max",
    "pcie.link.width.current",
    "pcie.link.width.max",
    "ecc.mode.current",
    "ecc.errors.corrected.volatile.total",
    "ecc.errors.uncorrected.volatile.total",
    "ecc.errors.uncorrected.aggregate.total",
    "retired_pages.pending",
    "remapped_rows.correctable",
    "remapped_rows.uncorrectable",
    "remapped_rows.pending",
    "remapped_rows.failure",
    "clocks_event_reasons.active",
    "persistence_mode",
    "compute_mode",
    "mig.mode.current",
    "fan.speed",
)


def _events(value: str) -> list[str]:
    mask = v.integer(value)
    return decode_clock_events(mask) if mask is not None else []


_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "index": ("index", v.integer),
    "uuid": ("uuid", v.text),
    "name": ("name", v.text),
    "serial": ("serial", v.text),
    "pci.bus_id": ("pci_bus_id", v.text),
    "driver_version": ("driver_version", v.text),
    "vbios_version": ("vbios_version", v.text),
    "pstate": ("pstate", v.text),
    "temperature.gpu": ("temperature_c", v.number),
    "temperature.memory": ("memory_temperature_c", v.number),
    "power.draw": ("power_draw_w", v.number),
    "power.limit": ("power_limit_w", v.number),
    "enforced.power.limit": ("enforced_power_limit_w", v.number),
    "power.default_limit": ("default_power_limit_w", v.number),
    "power.min_limit": ("min_power_limit_w", v.number),
    "power.max_limit": ("max_power_limit_w", v.number),
    "memory.total": ("memory_total_mib", v.number),
    "memory.used": ("memory_used_mib", v.number),
    "utilization.gpu": ("utilization_pct", v.number),
    "utilization.memory": ("memory_utilization_pct", v.number),
    "clocks.sm": ("sm_clock_mhz", v.number),
    "clocks.max.sm": ("sm_clock_max_mhz", v.number),
    "clocks.mem": ("memory_clock_mhz", v.number),
    "pcie.link.gen.current": ("pcie_gen", v.integer),
    "pcie.link.gen.max": ("pcie_gen_max", v.integer),
    "pcie.link.width.current": ("pcie_width", v.integer),
    "pcie.link.width.max": ("pcie_width_max", v.integer),
    "ecc.mode.current": ("ecc_enabled", v.flag),
    "ecc.errors.corrected.volatile.total": ("ecc_corrected_volatile", v.integer),
    "ecc.errors.uncorrected.volatile.total": ("ecc_uncorrected_volatile", v.integer),
    "ecc.errors.uncorrected.aggregate.total": ("ecc_uncorrected_aggregate", v.integer),
    "retired_pages.pending": ("retired_pages_pending", v.flag),
    "remapped_rows.correctable": ("remapped_rows_correctable", v.integer),
    "remapped_rows.uncorrectable": ("remapped_rows_uncorrectable", v.integer),
    "remapped_rows.pending": ("remapped_rows_pending", v.flag),
    "remapped_rows.failure": ("remapped_rows_failure", v.flag),
    "clocks_event_reasons.active": ("clock_event_reasons", _events),
    "clocks_throttle_reasons.active": ("clock_event_reasons", _events),
    "persistence_mode": ("persistence_mode", v.flag),
    "compute_mode": ("compute_mode", v.text),
    "mig.mode.current": ("mig_enabled", v.flag),
    "fan.speed": ("fan_speed_pct", v.number),
}
_QUERY = re.compile(r"--query-gpu=([\w.,]+)")
_APPS = re.compile(r"--query-compute-apps=([\w.,]+)")


def query_command(fields: tuple[str, ...] = QUERY_FIELDS) -> str:
    """The nvidia-smi command line dcctl runs."""
    return f"nvidia-smi --query-gpu={','.join(fields)} --format=csv,noheader,nounits"


def fields_of(command: str, pattern: re.Pattern[str] = _QUERY) -> list[str] | None:
    """The field list named by a query command line."""
    m = pattern.search(command)
    return m.group(1).split(",") if m else None


def _rows(text: str, fields: list[str]) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    rows = []
    for row in reader:
        if not row or not any(cell.strip() for cell in row):
            continue
        if row[0].strip() == fields[0] or row[0].strip().startswith(fields[0] + " "):
            continue  # a header line (csv without noheader)
        rows.append([cell.strip() for cell in row])
    return rows


@lru_cache(maxsize=64)
def _converters(fields: tuple[str, ...]) -> tuple[tuple[int, str, Callable[[str], Any]], ...]:
    """(column, attribute, converter) for the known fields of a field list, computed once."""
    return tuple((i, *_FIELDS[name]) for i, name in enumerate(fields) if name in _FIELDS)


def parse_query(text: str, command: str) -> tuple[list[GpuInfo], list[str]]:
    """GPUs from query CSV output, and notes about anything skipped."""
    fields = tuple(fields_of(command) or QUERY_FIELDS)
    plan = _converters(fields)
    gpus: list[GpuInfo] = []
    notes: list[str] = []
    for row in _rows(text, list(fields)):
        if len(row) != len(fields):
            notes.append(f"skipped a line with {len(row)} values for {len(fields)} fields")
            continue
        gpus.append(GpuInfo(**{attr: convert(row[i]) for i, attr, convert in plan}))
    return gpus, notes


def parse_apps(text: str, command: str) -> list[GpuProcess]:
    """Compute processes from ``--query-compute-apps=…`` CSV output."""
    fields = fields_of(command, _APPS) or ["gpu_uuid", "pid", "process_name", "used_memory"]
    processes = []
    for row in _rows(text, fields):
        if len(row) != len(fields):
            continue
        values = dict(zip(fields, row, strict=True))
        memory = values.get("used_memory", values.get("used_gpu_memory"))
        processes.append(
            GpuProcess(
                pid=v.integer(values.get("pid")),
                name=v.text(values.get("process_name")),
                used_memory_mib=v.number(memory),
                gpu_uuid=v.text(values.get("gpu_uuid")),
            )
        )
    return processes
