"""The GPU result model, shared by the nvidia-smi CSV, nvidia-smi XML and NVML readers."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Bits of nvidia-smi's clocks_event_reasons.active (NVML's nvmlClocksEventReason* values).
CLOCK_EVENT_BITS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
#: Clock-event reasons that mean the GPU is being held back (not idle, not a user setting).
THROTTLE_REASONS = frozenset(
    {"hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)


def decode_clock_events(mask: int) -> list[str]:
    """Names of the bits set in a clocks_event_reasons mask."""
    return [name for bit, name in CLOCK_EVENT_BITS.items() if mask & bit]


@dataclass
class GpuInfo:
    """One GPU as read from the host; None means the host did not say (N/A, unsupported)."""

    index: int | None = None
    uuid: str | None = None
    name: str | None = None
    serial: str | None = None
    pci_bus_id: str | None = None
    driver_version: str | None = None
    vbios_version: str | None = None
    pstate: str | None = None
    temperature_c: float | None = None
    memory_temperature_c: float | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    enforced_power_limit_w: float | None = None
    default_power_limit_w: float | None = None
    min_power_limit_w: float | None = None
    max_power_limit_w: float | None = None
    memory_total_mib: float | None = None
    memory_used_mib: float | None = None
    utilization_pct: float | None = None
    memory_utilization_pct: float | None = None
    sm_clock_mhz: float | None = None
    sm_clock_max_mhz: float | None = None
    memory_clock_mhz: float | None = None
    pcie_gen: int | None = None
    pcie_gen_max: int | None = None
    pcie_width: int | None = None
    pcie_width_max: int | None = None
    ecc_enabled: bool | None = None
    ecc_corrected_volatile: int | None = None
    ecc_uncorrected_volatile: int | None = None
    ecc_uncorrected_aggregate: int | None = None
    retired_pages_pending: bool | None = None
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    remapped_rows_pending: bool | None = None
    remapped_rows_failure: bool | None = None
    clock_event_reasons: list[str] = field(default_factory=list)
    persistence_mode: bool | None = None
    compute_mode: str | None = None
    mig_enabled: bool | None = None
    fan_speed_pct: float | None = None
    recovery_action: str | None = None  # the driver's own verdict ("None", "GPU Reset", ...)
    thermal_margin_c: float | None = None  # degrees below the GPU's own thermal limit (T.Limit)


@dataclass
class GpuProcess:
    """A compute process using a GPU."""

    pid: int | None
    name: str | None
    used_memory_mib: float | None
    gpu_uuid: str | None = None


@dataclass
class XidEvent:
    """An NVIDIA Xid error from the kernel log."""

    code: int
    pci: str | None
    text: str
    time_s: float | None = None  # seconds since boot (dmesg's timestamp), when printed


@dataclass
class GpuReport:
    """Everything the gpu probe learned about a host."""

    driver_present: bool
    source: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    gpus: list[GpuInfo] = field(default_factory=list)
    processes: list[GpuProcess] = field(default_factory=list)
    topology: dict[str, dict[str, str]] = field(default_factory=dict)
    xid_events: list[XidEvent] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
