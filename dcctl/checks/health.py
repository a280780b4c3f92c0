"""Findings a host's probe results show on their own, without an inventory profile."""

from __future__ import annotations

from dcctl.checks.findings import Action, Finding, Severity
from dcctl.checks.xid import xid_findings
from dcctl.probes.gpu_model import THROTTLE_REASONS, GpuInfo, GpuReport
from dcctl.probes.security import SecurityReport
from dcctl.probes.storage import VIRTUAL_FS, StorageReport

DCGM = "DCGM health watch"
#: Uncorrectable row remaps at which DCGM asks for triage (the remapper's capacity).
REMAP_TRIAGE = 512
#: Degrees below the GPU's own thermal limit under which a warning is due.
THERMAL_MARGIN_WARN_C = 5.0


def recovery_action(text: str) -> Action:
    """The action of the driver's GPU recovery verdict ("GPU Reset", "Drain and Reset", ...)."""
    words = text.lower()
    if "drain" in words:
        return Action.drain_and_reset
    if "reboot" in words:
        return Action.reboot_node
    if "reset" in words:
        return Action.reset_gpu
    return Action.inspect_hardware


MEMORY_DOC = "NVIDIA GPU memory error management (row remapping)"
FULL_WARNING_PCT = 90.0
FULL_CRITICAL_PCT = 95.0


def _gpu(g: GpuInfo) -> str:
    return f"GPU{g.index}" if g.index is not None else (g.pci_bus_id or "GPU")


def gpu_findings(report: GpuReport) -> list[Finding]:
    """ECC, row remapping, retired pages, throttling and Xid findings."""
    out: list[Finding] = []
    add = out.append
    for g in report.gpus:
        who = _gpu(g)
        if g.ecc_enabled is False:
            add(Finding(Severity.warning, "gpu", "ecc_off", "ECC is disabled", who))
        if g.ecc_uncorrected_volatile:
            add(
                Finding(
                    Severity.critical,
                    "gpu",
                    "ecc_uncorrectable",
                    f"{g.ecc_uncorrected_volatile} uncorrectable ECC errors since boot",
                    who,
                    Action.reset_gpu,
                    DCGM,
                    {"ecc_uncorrected_volatile": g.ecc_uncorrected_volatile},
                )
            )
        elif g.ecc_uncorrected_aggregate:
            add(
                Finding(
                    Severity.warning,
                    "gpu",
                    "ecc_uncorrectable_history",
                    f"{g.ecc_uncorrected_aggregate} uncorrectable ECC errors in its lifetime",
                    who,
                    Action.monitor,
                    DCGM,
                    {"ecc_uncorrected_aggregate": g.ecc_uncorrected_aggregate},
                )
            )
        if g.remapped_rows_pending:
            add(
                Finding(
                    Severity.critical,
                    "gpu",
                    "remap_pending",
                    "row remapping pending: reset the GPU to apply it",
                    who,
                    Action.reset_gpu,
                    MEMORY_DOC,
                )
            )
        if g.remapped_rows_failure:
            add(
                Finding(
                    Severity.critical,
                    "gpu",
                    "remap_failure",
                    "row remapping failed: the GPU needs replacing",
                    who,
                    Action.inspect_hardware,
                    DCGM,
                )
            )
        if (g.remapped_rows_uncorrectable or 0) >= REMAP_TRIAGE:
            add(
                Finding(
                    Severity.warning,
                    "gpu",
                    "remaps_exhausting",
                    f"{g.remapped_rows_uncorrectable} rows remapped for uncorrectable errors "
                    f"(the remapper holds {REMAP_TRIAGE} per bank): triage the GPU",
                    who,
                    Action.inspect_hardware,
                    DCGM,
                    {"remapped_rows_uncorrectable": g.remapped_rows_uncorrectable},
                )
            )
        if g.retired_pages_pending:
            add(
                Finding(
                    Severity.critical,
                    "gpu",
                    "retired_pages_pending",
                    "page retirement pending: reset the GPU",
                    who,
                    Action.reset_gpu,
                    DCGM,
                )
            )
        if g.recovery_action and g.recovery_action.lower() not in ("none", "n/a"):
            add(
                Finding(
                    Severity.critical,
                    "gpu",
                    "gpu_recovery_action",
                    f"the driver asks for recovery: {g.recovery_action}",
                    who,
                    recovery_action(g.recovery_action),
                    "the driver's own verdict (nvidia-smi gpu_recovery_action)",
                    {"recovery_action": g.recovery_action},
                )
            )
        if g.thermal_margin_c is not None and g.thermal_margin_c < THERMAL_MARGIN_WARN_C:
            at_limit = g.thermal_margin_c <= 0
            add(
                Finding(
                    Severity.critical if at_limit else Severity.warning,
                    "gpu",
                    "thermal_limit",
                    f"{g.thermal_margin_c:g} °C from its thermal limit (T.Limit)"
                    + (": slowing down" if at_limit else ""),
                    who,
                    Action.inspect_hardware if at_limit else Action.monitor,
                    "nvidia-smi temperature.gpu.tlimit (margin to the GPU's own limit)",
                    {"margin_c": g.thermal_margin_c, "temperature_c": g.temperature_c},
                )
            )
        throttled = sorted(set(g.clock_event_reasons) & THROTTLE_REASONS)
        if throttled:
            add(
                Finding(
                    Severity.warning,
                    "gpu",
                    "throttled",
                    f"clocks held back: {', '.join(throttled)}",
                    who,
                )
            )
    out += xid_findings(report.xid_events)
    return out


def storage_findings(report: StorageReport) -> list[Finding]:
    """Nearly full and read-only filesystems (virtual filesystems are skipped)."""
    out: list[Finding] = []
    for fs in report.filesystems:
        if fs.fstype in VIRTUAL_FS or fs.fstype is None:
            continue
        if fs.use_pct is not None and fs.use_pct >= FULL_WARNING_PCT:
            severity = Severity.critical if fs.use_pct >= FULL_CRITICAL_PCT else Severity.warning
            out.append(
                Finding(severity, "storage", "fs_full", f"{fs.use_pct:g}% full", fs.mountpoint)
            )
        if fs.read_only:
            severity = Severity.critical if fs.mountpoint == "/" else Severity.warning
            out.append(
                Finding(severity, "storage", "fs_read_only", "mounted read-only", fs.mountpoint)
            )
    return out


def security_findings(report: SecurityReport) -> list[Finding]:
    """The posture of sshd, and PATH directory permissions."""
    out: list[Finding] = []
    sshd = report.sshd
    if sshd.get("permitrootlogin") == "yes":
        out.append(
            Finding(
                Severity.warning,
                "security",
                "ssh_root_password",
                "sshd lets root log in with a password (PermitRootLogin yes)",
                "sshd",
            )
        )
    if sshd.get("passwordauthentication") == "yes":
        out.append(
            Finding(
                Severity.warning,
                "security",
                "ssh_password_auth",
                "sshd accepts passwords (PasswordAuthentication yes)",
                "sshd",
            )
        )
    if sshd.get("permitemptypasswords") == "yes":
        out.append(
            Finding(
                Severity.critical,
                "security",
                "ssh_empty_passwords",
                "sshd accepts empty passwords",
                "sshd",
            )
        )
    for d in report.path_dirs:
        if d.world_writable:
            out.append(
                Finding(
                    Severity.critical,
                    "security",
                    "path_world_writable",
                    f"world-writable directory on root's PATH (mode {d.mode})",
                    d.path,
                )
            )
        elif d.owner != "root":
            out.append(
                Finding(
                    Severity.warning,
                    "security",
                    "path_not_root_owned",
                    f"directory on root's PATH owned by {d.owner}",
                    d.path,
                )
            )
    return out
