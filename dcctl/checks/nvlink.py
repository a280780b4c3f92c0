"""NVLink findings: links down against the profile's expected count, links inactive, errors.

Expected counts are per SKU, never assumed (an H100 PCIe has none by design, an H100 SXM 18, an
A100 SXM 12: the profile's ``gpu.nvlink_links``). Without an expected count, a GPU with some
links up and others inactive is still suspicious. Error counters count since the driver loaded.
"""

from __future__ import annotations

from dcctl.checks.findings import Action, Finding, Severity
from dcctl.inventory.model import Profile
from dcctl.probes.nvlink import NvlinkReport

SOURCE_DOWN = "DCGM health watch (NVLINK_DOWN), expected links from the inventory profile"
SOURCE_ERRORS = "DCGM health watch (NVLink replay/recovery/CRC errors)"


def nvlink_findings(report: NvlinkReport, profile: Profile | None) -> list[Finding]:
    """Links down or inactive, and error counters, per GPU."""
    expected = profile.gpu.nvlink_links if profile is not None and profile.gpu else None
    out: list[Finding] = []
    if report.error or not report.supported or expected == 0:
        return out
    if expected is not None and not report.gpus:
        out.append(Finding(
            Severity.critical, "nvlink", "nvlink_down",
            f"nvidia-smi reports no NVLink at all; the profile expects {expected} per GPU",
            None, Action.reset_gpu, SOURCE_DOWN, {"active": 0, "expected": expected},
        ))  # fmt: skip
    for g in report.gpus:
        who = f"GPU{g.index}"
        down = sorted(n for n, speed in g.links.items() if speed is None)
        if expected is not None and g.active < expected:
            out.append(Finding(
                Severity.critical, "nvlink", "nvlink_down",
                f"{g.active} of {expected} NVLinks active"
                + (f" (inactive: {', '.join(map(str, down))})" if down else ""),
                who, Action.reset_gpu, SOURCE_DOWN,
                {"active": g.active, "expected": expected, "inactive": down},
            ))  # fmt: skip
        elif expected is None and down and g.active:
            out.append(Finding(
                Severity.warning, "nvlink", "nvlink_inactive",
                f"{len(down)} of {len(g.links)} NVLinks inactive while the others are up "
                "(set gpu.nvlink_links in the profile to judge against the SKU)",
                who, Action.monitor, SOURCE_DOWN, {"inactive": down},
            ))  # fmt: skip
        totals: dict[str, int] = {}
        for counters in g.errors.values():
            for name, count in counters.items():
                totals[name] = totals.get(name, 0) + count
        bad = {k: v for k, v in totals.items() if v and ("replay" in k or "recovery" in k
                                                         or "crc" in k)}  # fmt: skip
        if bad:
            out.append(Finding(
                Severity.warning, "nvlink", "nvlink_errors",
                "NVLink errors since the driver loaded: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(bad.items())),
                who, Action.monitor, SOURCE_ERRORS, dict(sorted(bad.items())),
            ))  # fmt: skip
    return out
