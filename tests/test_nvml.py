"""The NVML path, on a recorded NVML dump of a real H100 (no GPU on this machine).

A fake pynvml module answers each nvmlDevice* call from the dump; calls the dump records as
unsupported raise NVMLError, as the real module does on that GPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from dcctl.probes.bundle import parse_bundle_file
from dcctl.probes.gpu_query import parse_query
from dcctl.probes.nvml import collect_nvml

H100 = Path(__file__).parent / "fixtures" / "h100-idle"


class NVMLError(Exception):
    pass


def fake_nvml():
    out = parse_bundle_file((H100 / "pynvml_dump.json").read_text(), "dump")
    dump = json.loads(out.text)
    gpus = dump["gpus"]
    # The dump script used names this pynvml does not have for these two; NVML's are "Curr".
    calls = {
        "nvmlDeviceGetName": "Name",
        "nvmlDeviceGetUUID": "UUID",
        "nvmlDeviceGetSerial": "Serial",
        "nvmlDeviceGetPowerUsage": "PowerUsage",
        "nvmlDeviceGetPowerManagementLimit": "PowerManagementLimit",
        "nvmlDeviceGetPowerManagementLimitConstraints": "PowerManagementLimitConstraints",
        "nvmlDeviceGetPowerManagementDefaultLimit": "PowerManagementDefaultLimit",
        "nvmlDeviceGetEnforcedPowerLimit": "EnforcedPowerLimit",
        "nvmlDeviceGetPerformanceState": "PerformanceState",
        "nvmlDeviceGetCurrentClocksEventReasons": "CurrentClocksEventReasons",
        "nvmlDeviceGetCurrPcieLinkGeneration": "CurrentPcieLinkGeneration",
        "nvmlDeviceGetMaxPcieLinkGeneration": "MaxPcieLinkGeneration",
        "nvmlDeviceGetCurrPcieLinkWidth": "CurrentPcieLinkWidth",
        "nvmlDeviceGetMaxPcieLinkWidth": "MaxPcieLinkWidth",
        "nvmlDeviceGetPersistenceMode": "PersistenceMode",
        "nvmlDeviceGetComputeMode": "ComputeMode",
        "nvmlDeviceGetEccMode": "EccMode",
        "nvmlDeviceGetRemappedRows": "RemappedRows",
        "nvmlDeviceGetRetiredPagesPendingStatus": "RetiredPagesPendingStatus",
        "nvmlDeviceGetMigMode": "MigMode",
        "nvmlDeviceGetVbiosVersion": "VbiosVersion",
    }

    def value(gpu, key):
        v = gpu[key]
        if isinstance(v, dict) and "error" in v:
            raise NVMLError(v["error"])
        return v

    module = SimpleNamespace(
        NVMLError=NVMLError,
        NVML_MEMORY_ERROR_TYPE_CORRECTED=0,
        NVML_MEMORY_ERROR_TYPE_UNCORRECTED=1,
        NVML_VOLATILE_ECC=0,
        NVML_AGGREGATE_ECC=1,
        NVML_CLOCK_SM=1,
        NVML_CLOCK_MEM=2,
        NVML_TEMPERATURE_GPU=0,
        nvmlSystemGetDriverVersion=lambda: dump["driver"],
        nvmlSystemGetCudaDriverVersion=lambda: dump["cuda"],
        nvmlDeviceGetCount=lambda: dump["count"],
        nvmlDeviceGetHandleByIndex=lambda i: gpus[i],
        nvmlDeviceGetPciInfo=lambda h: SimpleNamespace(**h["PciInfo"]),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(**h["MemoryInfo"]),
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(**h["UtilizationRates"]),
        nvmlDeviceGetTemperature=lambda h, sensor: h["Temperature"],
        nvmlDeviceGetClockInfo=lambda h, clock: h["ClockSM"] if clock == 1 else None,
        nvmlDeviceGetMaxClockInfo=lambda h, clock: h["MaxClockSM"],
        nvmlDeviceGetTotalEccErrors=lambda h, kind, counter: {
            (1, 0): h["EccVolatileUncorrected"],
            (1, 1): h["EccAggregateUncorrected"],
            (0, 0): h["EccVolatileCorrected"],
        }[(kind, counter)],
        nvmlDeviceGetComputeRunningProcesses=lambda h: [],
    )
    for name, key in calls.items():
        setattr(module, name, lambda h, key=key: value(h, key))
    return module


def test_nvml_report_matches_nvidia_smi_on_the_same_h100():
    report = collect_nvml(fake_nvml())
    assert (report.source, report.driver_version, report.cuda_version) == (
        "nvml",
        "580.159.04",
        "13.0",
    )
    (nvml_gpu,) = report.gpus
    out = parse_bundle_file((H100 / "nvsmi_query_nounits.csv").read_text(), "csv")
    (smi_gpu,) = parse_query(out.text, out.command)[0]
    same = [
        "uuid", "name", "serial", "pci_bus_id", "vbios_version", "pstate", "temperature_c",
        "power_limit_w", "enforced_power_limit_w", "default_power_limit_w", "min_power_limit_w",
        "max_power_limit_w", "utilization_pct", "sm_clock_mhz", "sm_clock_max_mhz",
        "pcie_gen_max", "pcie_width_max", "ecc_enabled", "ecc_uncorrected_volatile",
        "ecc_uncorrected_aggregate", "ecc_corrected_volatile", "retired_pages_pending",
        "remapped_rows_correctable", "remapped_rows_uncorrectable", "remapped_rows_pending",
        "remapped_rows_failure", "clock_event_reasons", "persistence_mode", "compute_mode",
        "mig_enabled",
    ]  # fmt: skip
    assert {k: getattr(nvml_gpu, k) for k in same} == {k: getattr(smi_gpu, k) for k in same}
    # NVML counts memory in bytes (81559 MiB); the reading differs by an instant of idle draw.
    assert round(nvml_gpu.memory_total_mib) == smi_gpu.memory_total_mib == 81559
    assert abs(nvml_gpu.power_draw_w - smi_gpu.power_draw_w) < 1
    # The dump lacks the current PCIe link (the call errored there): unknown, not a crash.
    assert nvml_gpu.pcie_gen is None and nvml_gpu.pcie_width is None


def test_recovery_action_field_from_nvml():
    # The recorded dump has no field 230: the fake answers it as NVML would (a value struct per
    # field, nvmlReturn 0 when supported), from the ids in nvml.h.
    from dcctl.checks.findings import Action
    from dcctl.checks.health import gpu_findings

    module = fake_nvml()

    def field_values(handle, ids, action=4):
        assert ids == [230]
        return [SimpleNamespace(nvmlReturn=0, value=SimpleNamespace(uiVal=action))]

    module.nvmlDeviceGetFieldValues = field_values
    report = collect_nvml(module)
    assert report.gpus[0].recovery_action == "Drain and Reset"
    (finding,) = [f for f in gpu_findings(report) if f.code == "gpu_recovery_action"]
    assert finding.action is Action.drain_and_reset
    module.nvmlDeviceGetFieldValues = lambda h, ids: [SimpleNamespace(nvmlReturn=3, value=None)]
    assert collect_nvml(module).gpus[0].recovery_action is None  # not supported: no verdict
    module.nvmlDeviceGetFieldValues = lambda h, ids: field_values(h, ids, 0)
    report = collect_nvml(module)
    assert report.gpus[0].recovery_action == "None"
    assert [f for f in gpu_findings(report) if f.code == "gpu_recovery_action"] == []
