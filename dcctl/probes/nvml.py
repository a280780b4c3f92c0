"""The gpu probe through NVML (pynvml), for the host dcctl runs on: the same GpuReport model.

The NVML module is passed in (``pynvml`` by default), so the mapping is tested against a
recorded NVML dump of a real H100 without a GPU. Every call that NVML does not support on a
device (``NVMLError_NotSupported``) or that this pynvml lacks becomes None, as ``[N/A]`` does
in the nvidia-smi parsers.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from dcctl.probes.gpu_model import GpuInfo, GpuProcess, GpuReport, decode_clock_events

_COMPUTE_MODES = {0: "Default", 1: "Exclusive_Thread", 2: "Prohibited", 3: "Exclusive_Process"}


def load_nvml() -> ModuleType | None:
    """The pynvml module if it imports and NVML initialises (a driver is present), else None."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None
    module: ModuleType = pynvml  # untyped (no stubs exist): see pyproject's mypy overrides
    return module


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class _Caller:
    def __init__(self, nvml: ModuleType) -> None:
        self.nvml = nvml
        self.error = getattr(nvml, "NVMLError", Exception)

    def __call__(self, name: str, *args: Any) -> Any:
        fn: Callable[..., Any] | None = getattr(self.nvml, name, None)
        if fn is None:
            return None
        try:
            return fn(*args)
        except self.error:
            return None


def collect_nvml(nvml: ModuleType) -> GpuReport:
    """A GpuReport from an initialised NVML module."""
    call = _Caller(nvml)
    cuda = call("nvmlSystemGetCudaDriverVersion")
    report = GpuReport(
        driver_present=True,
        source="nvml",
        driver_version=_text(call("nvmlSystemGetDriverVersion")),
        cuda_version=f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None,
    )
    count = call("nvmlDeviceGetCount") or 0
    for index in range(count):
        handle = call("nvmlDeviceGetHandleByIndex", index)
        if handle is None:
            report.notes.append(f"GPU {index}: no handle")
            continue
        report.gpus.append(_gpu(call, nvml, handle, index, report.driver_version))
        for proc in call("nvmlDeviceGetComputeRunningProcesses", handle) or []:
            used = getattr(proc, "usedGpuMemory", None)
            report.processes.append(
                GpuProcess(
                    pid=getattr(proc, "pid", None),
                    name=None,
                    used_memory_mib=used / 2**20 if isinstance(used, int) else None,
                    gpu_uuid=report.gpus[-1].uuid,
                )
            )
    return report


def _watts(milliwatts: Any) -> float | None:
    return milliwatts / 1000.0 if isinstance(milliwatts, int | float) else None


def _gpu(call: _Caller, nvml: ModuleType, h: Any, index: int, driver: str | None) -> GpuInfo:
    def c(name: str, *args: Any) -> Any:
        """An NVML call on this device (None when unsupported)."""
        return call(name, h, *args)

    pci = c("nvmlDeviceGetPciInfo")
    memory = c("nvmlDeviceGetMemoryInfo")
    util = c("nvmlDeviceGetUtilizationRates")
    limits = c("nvmlDeviceGetPowerManagementLimitConstraints")
    ecc = c("nvmlDeviceGetEccMode")
    remap = c("nvmlDeviceGetRemappedRows")
    mig = c("nvmlDeviceGetMigMode")
    pstate = c("nvmlDeviceGetPerformanceState")
    reasons = c("nvmlDeviceGetCurrentClocksEventReasons")
    if reasons is None:
        reasons = c("nvmlDeviceGetCurrentClocksThrottleReasons")
    persistence = c("nvmlDeviceGetPersistenceMode")
    uncorrected, corrected = (
        getattr(nvml, "NVML_MEMORY_ERROR_TYPE_UNCORRECTED", 1),
        getattr(nvml, "NVML_MEMORY_ERROR_TYPE_CORRECTED", 0),
    )
    volatile, aggregate = (
        getattr(nvml, "NVML_VOLATILE_ECC", 0),
        getattr(nvml, "NVML_AGGREGATE_ECC", 1),
    )
    sm, mem = getattr(nvml, "NVML_CLOCK_SM", 1), getattr(nvml, "NVML_CLOCK_MEM", 2)
    pending = c("nvmlDeviceGetRetiredPagesPendingStatus")
    mode = c("nvmlDeviceGetComputeMode")
    return GpuInfo(
        index=index,
        uuid=_text(c("nvmlDeviceGetUUID")),
        name=_text(c("nvmlDeviceGetName")),
        serial=_text(c("nvmlDeviceGetSerial")),
        pci_bus_id=_text(getattr(pci, "busId", None)),
        driver_version=driver,
        vbios_version=_text(c("nvmlDeviceGetVbiosVersion")),
        pstate=f"P{pstate}" if isinstance(pstate, int) else None,
        temperature_c=c("nvmlDeviceGetTemperature", getattr(nvml, "NVML_TEMPERATURE_GPU", 0)),
        power_draw_w=_watts(c("nvmlDeviceGetPowerUsage")),
        power_limit_w=_watts(c("nvmlDeviceGetPowerManagementLimit")),
        enforced_power_limit_w=_watts(c("nvmlDeviceGetEnforcedPowerLimit")),
        default_power_limit_w=_watts(c("nvmlDeviceGetPowerManagementDefaultLimit")),
        min_power_limit_w=_watts(limits[0]) if limits else None,
        max_power_limit_w=_watts(limits[1]) if limits else None,
        memory_total_mib=getattr(memory, "total", 0) / 2**20 if memory else None,
        memory_used_mib=getattr(memory, "used", 0) / 2**20 if memory else None,
        utilization_pct=getattr(util, "gpu", None),
        memory_utilization_pct=getattr(util, "memory", None),
        sm_clock_mhz=c("nvmlDeviceGetClockInfo", sm),
        sm_clock_max_mhz=c("nvmlDeviceGetMaxClockInfo", sm),
        memory_clock_mhz=c("nvmlDeviceGetClockInfo", mem),
        pcie_gen=c("nvmlDeviceGetCurrPcieLinkGeneration"),
        pcie_gen_max=c("nvmlDeviceGetMaxPcieLinkGeneration"),
        pcie_width=c("nvmlDeviceGetCurrPcieLinkWidth"),
        pcie_width_max=c("nvmlDeviceGetMaxPcieLinkWidth"),
        ecc_enabled=bool(ecc[0]) if ecc else None,
        ecc_corrected_volatile=c("nvmlDeviceGetTotalEccErrors", corrected, volatile),
        ecc_uncorrected_volatile=c("nvmlDeviceGetTotalEccErrors", uncorrected, volatile),
        ecc_uncorrected_aggregate=c("nvmlDeviceGetTotalEccErrors", uncorrected, aggregate),
        retired_pages_pending=bool(pending) if pending is not None else None,
        remapped_rows_correctable=remap[0] if remap else None,
        remapped_rows_uncorrectable=remap[1] if remap else None,
        remapped_rows_pending=bool(remap[2]) if remap else None,
        remapped_rows_failure=bool(remap[3]) if remap else None,
        clock_event_reasons=decode_clock_events(reasons) if isinstance(reasons, int) else [],
        persistence_mode=bool(persistence) if persistence is not None else None,
        compute_mode=_COMPUTE_MODES.get(mode) if isinstance(mode, int) else None,
        mig_enabled=bool(mig[0]) if mig else None,
        fan_speed_pct=c("nvmlDeviceGetFanSpeed"),
        recovery_action=_recovery_action(c("nvmlDeviceGetFieldValues", [RECOVERY_ACTION_FIELD])),
    )


#: NVML_FI_DEV_GET_GPU_RECOVERY_ACTION: the driver's own verdict (nvml.h, r570 and later).
RECOVERY_ACTION_FIELD = 230
RECOVERY_ACTIONS = {
    0: "None",
    1: "GPU Reset",
    2: "Node Reboot",
    3: "Drain P2P",
    4: "Drain and Reset",
    5: "Recover IMEX Domain",
    6: "Bus Reset",
    7: "System Reboot",
}


def _recovery_action(values: Any) -> str | None:
    """The recovery action from ``nvmlDeviceGetFieldValues`` (None when not supported)."""
    if not values:
        return None
    field = values[0]
    if getattr(field, "nvmlReturn", 1) != 0:
        return None
    raw = getattr(getattr(field, "value", None), "uiVal", None)
    return RECOVERY_ACTIONS.get(raw, f"action {raw}") if isinstance(raw, int) else None
