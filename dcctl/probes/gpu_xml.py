"""Parsing ``nvidia-smi -q -x`` into the same model as the CSV query.

Used when the CSV query fails (an older driver that lacks a field) or when a bundle holds only
the XML. Element names follow the nvsmi_device DTD; older names are tried as well.
The XML comes from a host we probe, so it is parsed with the standard library's expat parser,
which fetches no external DTD and limits entity expansion.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dcctl.errors import ProbeError
from dcctl.probes import gpu_values as v
from dcctl.probes.gpu_model import GpuInfo


def _find(node: ET.Element, *paths: str) -> str | None:
    for path in paths:
        found = node.find(path)
        if found is not None and found.text is not None:
            return found.text
    return None


def _sum(node: ET.Element, path: str, names: tuple[str, ...]) -> int | None:
    section = node.find(path)
    if section is None:
        return None
    values = [v.integer(_find(section, name)) for name in names]
    known = [x for x in values if x is not None]
    return sum(known) if known else None


_UNCORRECTED = ("sram_uncorrectable_parity", "sram_uncorrectable_secded", "dram_uncorrectable")
_UNCORRECTED_OLD = ("sram_uncorrectable", "dram_uncorrectable", "single_bit/total", "total")


def _reasons(gpu: ET.Element) -> list[str]:
    section = gpu.find("clocks_event_reasons")
    prefix = "clocks_event_reason_"
    if section is None:
        section = gpu.find("clocks_throttle_reasons")
        prefix = "clocks_throttle_reason_"
    if section is None:
        return []
    return [
        child.tag[len(prefix) :]
        for child in section
        if child.tag.startswith(prefix) and v.flag(child.text)
    ]


def parse_xml(text: str) -> tuple[list[GpuInfo], str | None, str | None]:
    """(GPUs, driver version, CUDA version) from ``nvidia-smi -q -x`` output."""
    start = text.find("<nvidia_smi_log")
    if start < 0:
        raise ProbeError("not nvidia-smi XML (no <nvidia_smi_log>)")
    try:
        root = ET.fromstring(text[start:])
    except ET.ParseError as exc:
        raise ProbeError(f"nvidia-smi XML does not parse: {exc}") from None
    driver = v.text(_find(root, "driver_version"))
    cuda = v.text(_find(root, "cuda_version"))
    gpus = []
    for i, gpu in enumerate(root.findall("gpu")):
        power = (
            "gpu_power_readings" if gpu.find("gpu_power_readings") is not None else "power_readings"
        )
        info = GpuInfo(
            index=i,
            uuid=v.text(_find(gpu, "uuid")),
            name=v.text(_find(gpu, "product_name")),
            serial=v.text(_find(gpu, "serial")),
            pci_bus_id=v.text(_find(gpu, "pci/pci_bus_id")) or gpu.get("id"),
            driver_version=driver,
            vbios_version=v.text(_find(gpu, "vbios_version")),
            pstate=v.text(_find(gpu, "performance_state")),
            temperature_c=v.number(_find(gpu, "temperature/gpu_temp")),
            memory_temperature_c=v.number(_find(gpu, "temperature/memory_temp")),
            power_draw_w=v.number(
                _find(
                    gpu,
                    f"{power}/power_draw",
                    f"{power}/average_power_draw",
                    f"{power}/instant_power_draw",
                )
            ),
            power_limit_w=v.number(
                _find(gpu, f"{power}/current_power_limit", f"{power}/power_limit")
            ),
            enforced_power_limit_w=v.number(
                _find(gpu, f"{power}/enforced_power_limit", f"{power}/current_power_limit")
            ),
            default_power_limit_w=v.number(_find(gpu, f"{power}/default_power_limit")),
            min_power_limit_w=v.number(_find(gpu, f"{power}/min_power_limit")),
            max_power_limit_w=v.number(_find(gpu, f"{power}/max_power_limit")),
            memory_total_mib=v.number(_find(gpu, "fb_memory_usage/total")),
            memory_used_mib=v.number(_find(gpu, "fb_memory_usage/used")),
            utilization_pct=v.number(_find(gpu, "utilization/gpu_util")),
            memory_utilization_pct=v.number(_find(gpu, "utilization/memory_util")),
            sm_clock_mhz=v.number(_find(gpu, "clocks/sm_clock")),
            sm_clock_max_mhz=v.number(_find(gpu, "max_clocks/sm_clock")),
            memory_clock_mhz=v.number(_find(gpu, "clocks/mem_clock")),
            pcie_gen=v.integer(_find(gpu, "pci/pci_gpu_link_info/pcie_gen/current_link_gen")),
            pcie_gen_max=v.integer(_find(gpu, "pci/pci_gpu_link_info/pcie_gen/max_link_gen")),
            pcie_width=v.integer(
                _find(gpu, "pci/pci_gpu_link_info/link_widths/current_link_width")
            ),
            pcie_width_max=v.integer(
                _find(gpu, "pci/pci_gpu_link_info/link_widths/max_link_width")
            ),
            ecc_enabled=v.flag(_find(gpu, "ecc_mode/current_ecc")),
            ecc_corrected_volatile=_sum(
                gpu, "ecc_errors/volatile", ("sram_correctable", "dram_correctable")
            ),
            ecc_uncorrected_volatile=_sum(gpu, "ecc_errors/volatile", _UNCORRECTED)
            if gpu.find("ecc_errors/volatile/sram_uncorrectable_parity") is not None
            else _sum(gpu, "ecc_errors/volatile", _UNCORRECTED_OLD[:2]),
            ecc_uncorrected_aggregate=_sum(gpu, "ecc_errors/aggregate", _UNCORRECTED)
            if gpu.find("ecc_errors/aggregate/sram_uncorrectable_parity") is not None
            else _sum(gpu, "ecc_errors/aggregate", _UNCORRECTED_OLD[:2]),
            retired_pages_pending=v.flag(_find(gpu, "retired_pages/pending_retirement")),
            remapped_rows_correctable=v.integer(_find(gpu, "remapped_rows/remapped_row_corr")),
            remapped_rows_uncorrectable=v.integer(_find(gpu, "remapped_rows/remapped_row_unc")),
            remapped_rows_pending=v.flag(_find(gpu, "remapped_rows/remapped_row_pending")),
            remapped_rows_failure=v.flag(_find(gpu, "remapped_rows/remapped_row_failure")),
            clock_event_reasons=_reasons(gpu),
            persistence_mode=v.flag(_find(gpu, "persistence_mode")),
            compute_mode=v.text(_find(gpu, "compute_mode")),
            mig_enabled=v.flag(_find(gpu, "mig_mode/current_mig")),
            fan_speed_pct=v.number(_find(gpu, "fan_speed")),
        )
        gpus.append(info)
    return gpus, driver, cuda
