"""Every rule dcctl's checks apply: its id, what it finds, where it comes from, its default rating.

``dcctl health --explain RULE`` prints an entry (and the site policy's overrides); a health
policy may name only these ids (or ``xid_<code>``, rated by the Xid catalogue, or a glob).
"""

from __future__ import annotations

from dataclasses import dataclass

from dcctl.checks.findings import Action, Severity
from dcctl.checks.outliers import METRICS
from dcctl.checks.outliers import SOURCE as OUTLIER_SOURCE
from dcctl.checks.xid import load_catalog


@dataclass(frozen=True)
class RuleInfo:
    """What a rule finds, its source, and how it rates a finding by default."""

    id: str
    description: str
    source: str
    severity: Severity
    action: Action = Action.none


_DCGM = "DCGM health watch"
_PROFILE = "the host's inventory profile"
_R = RuleInfo
RULES: dict[str, RuleInfo] = {
    r.id: r
    for r in (
        _R("ecc_off", "ECC disabled on a GPU", _PROFILE, Severity.warning),
        _R("ecc_uncorrectable", "volatile uncorrectable ECC errors > 0", _DCGM, Severity.critical,
           Action.reset_gpu),
        _R("ecc_uncorrectable_history", "uncorrectable ECC errors in the GPU's lifetime", _DCGM,
           Severity.warning, Action.monitor),
        _R("remap_pending", "a row remap waits for a GPU reset",
           "NVIDIA GPU memory error management", Severity.critical, Action.reset_gpu),
        _R("remap_failure", "row remapping failed", _DCGM, Severity.critical,
           Action.inspect_hardware),
        _R("remaps_exhausting", "512 or more rows remapped for uncorrectable errors", _DCGM,
           Severity.warning, Action.inspect_hardware),
        _R("retired_pages_pending", "a page retirement waits for a GPU reset", _DCGM,
           Severity.critical, Action.reset_gpu),
        _R("gpu_recovery_action", "the driver asks for a GPU reset, a drain or a reboot",
           "the driver's own verdict (nvidia-smi gpu_recovery_action)", Severity.critical,
           Action.reset_gpu),
        _R("thermal_limit", "within 5 °C of the GPU's own thermal limit (critical at it)",
           "nvidia-smi temperature.gpu.tlimit", Severity.warning, Action.monitor),
        _R("throttled", "clocks held back by HW slowdown, HW thermal, power brake or SW thermal",
           "nvidia-smi clock event reasons", Severity.warning),
        _R("nvlink_down", "fewer active NVLinks than the profile's gpu.nvlink_links",
           f"{_DCGM} (NVLINK_DOWN)", Severity.critical, Action.reset_gpu),
        _R("nvlink_inactive", "some NVLinks inactive while others are up", _DCGM,
           Severity.warning, Action.monitor),
        _R("nvlink_errors", "NVLink replay, recovery or CRC errors", _DCGM, Severity.warning,
           Action.monitor),
        _R("no_driver", "no NVIDIA driver where the profile expects GPUs", _PROFILE,
           Severity.critical),
        _R("gpu_missing", "fewer GPUs than the profile", _PROFILE, Severity.critical),
        _R("gpu_extra", "more GPUs than the profile", _PROFILE, Severity.warning),
        _R("gpu_model", "a GPU model other than the profile's", _PROFILE, Severity.warning),
        _R("mig_mode", "MIG mode other than the profile's gpu.mig", _PROFILE, Severity.warning,
           Action.fix_configuration),
        _R("persistence_off", "persistence mode off on GPUs the profile expects", _PROFILE,
           Severity.warning, Action.fix_configuration),
        _R("driver_mismatch", "a driver other than the profile's", _PROFILE, Severity.warning),
        _R("power_limit_not_default", "a power limit other than the default", _PROFILE,
           Severity.warning),
        _R("power_default_mismatch", "default power limit other than the profile's", _PROFILE,
           Severity.warning),
        _R("pcie_gen_low", "PCIe generation below the GPU's maximum", _PROFILE, Severity.warning),
        _R("pcie_width_low", "PCIe width below the GPU's maximum", _PROFILE, Severity.warning),
        _R("link_speed_low", "an Ethernet link slower than the profile", _PROFILE,
           Severity.warning),
        _R("mtu_low", "an MTU below the profile's", _PROFILE, Severity.warning),
        _R("ib_ports_down", "fewer InfiniBand ports up than the profile", _PROFILE,
           Severity.critical),
        _R("ib_port_missing", "a named InfiniBand port is not there", _PROFILE,
           Severity.critical, Action.inspect_hardware),
        _R("ib_port_down", "a named InfiniBand port is not ACTIVE (Polling: cable or switch)",
           _PROFILE, Severity.critical, Action.check_cabling),
        _R("ib_rate_low", "an InfiniBand port slower than the profile", _PROFILE,
           Severity.warning),
        _R("fs_full", "a filesystem 90 % full (critical at 95 %)", "dcctl", Severity.warning),
        _R("fs_read_only", "a filesystem mounted read-only (critical for /)", "dcctl",
           Severity.warning),
        _R("ssh_root_password", "sshd lets root log in with a password", "sshd_config(5)",
           Severity.warning),
        _R("ssh_password_auth", "sshd accepts passwords", "sshd_config(5)", Severity.warning),
        _R("ssh_empty_passwords", "sshd accepts empty passwords", "sshd_config(5)",
           Severity.critical),
        _R("path_world_writable", "a world-writable directory on root's PATH", "dcctl",
           Severity.critical),
        _R("path_not_root_owned", "a directory on root's PATH not owned by root", "dcctl",
           Severity.warning),
    )
}  # fmt: skip


RULES.update(
    {
        f"outlier_{m.name}": RuleInfo(
            f"outlier_{m.name}",
            f"a GPU's {m.describe} far from its cohort's ({m.side} side)",
            OUTLIER_SOURCE,
            Severity.warning,
            Action.monitor,
        )
        for m in METRICS
    }
)


def rule_info(rule: str) -> RuleInfo | None:
    """The entry of a rule id (``xid_79`` from the Xid catalogue), or None."""
    if rule in RULES:
        return RULES[rule]
    if rule.startswith("xid_") and rule[4:].isdigit():
        catalog = load_catalog()
        entry = catalog.entries.get(int(rule[4:]))
        if entry is None:
            return RuleInfo(rule, "an Xid the catalogue does not list",
                            f"NVIDIA Xid catalogue ({catalog.version})", Severity.warning,
                            Action.monitor)  # fmt: skip
        return RuleInfo(
            rule,
            f"Xid {entry.code}: {entry.name} (immediate action {entry.immediate_action})",
            f"NVIDIA Xid catalogue ({catalog.version}), {catalog.source}",
            entry.severity,
            entry.action,
        )
    return None


def rule_ids() -> list[str]:
    """Every rule id, the Xid codes of the catalogue included."""
    return [*RULES, *(f"xid_{c}" for c in load_catalog().entries)]
