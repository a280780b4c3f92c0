"""Fleet-relative outliers: a fleet of recorded hosts with one outlier gives exactly that one."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from dcctl.checks.findings import Action, Severity
from dcctl.checks.outliers import outlier_findings
from dcctl.checks.rules import rule_info
from dcctl.probes.bundle import read_bundle
from dcctl.probes.gpu import GpuProbe

CAPTURE = Path(__file__).resolve().parent / "fixtures" / "h100-idle"


def fleet(n: int = 8) -> dict[str, dict[str, object]]:
    """``n`` hosts that all read like the recorded H100 (one GPU each)."""
    probe = GpuProbe()
    report = probe.parse(read_bundle(CAPTURE, probe.steps))
    return {f"gpu{i:03d}": {"gpu": copy.deepcopy(report)} for i in range(1, n + 1)}


def edit(hosts, host, **values):
    gpu = hosts[host]["gpu"]
    gpu.gpus[0] = replace(gpu.gpus[0], **values)


def test_identical_fleet_has_no_outlier():
    assert outlier_findings(fleet(), {}) == {}


def test_one_capped_gpu_is_the_only_outlier():
    hosts = fleet()
    edit(hosts, "gpu005", power_limit_w=500.0)
    found = outlier_findings(hosts, {h: "profile h100-8x" for h in hosts})
    assert list(found) == ["gpu005"]
    (finding,) = found["gpu005"]
    assert (finding.code, finding.severity, finding.action) == (
        "outlier_power_limit", Severity.warning, Action.monitor,
    )  # fmt: skip
    assert finding.evidence == {"value": 500.0, "median": 700.0, "mad": 0.0, "z": None,
                                "peers": 8, "cohort": "profile h100-8x"}  # fmt: skip


def test_spread_fleet_uses_the_modified_z_score():
    hosts = fleet(9)
    temps = (60, 61, 62, 63, 64, 62, 61, 63, 85)
    for i, (host, temp) in enumerate(zip(hosts, temps, strict=True)):
        edit(hosts, host, utilization_pct=90.0 + i, temperature_c=float(temp))
    found = outlier_findings(hosts, {})
    assert list(found) == ["gpu009"]
    (finding,) = found["gpu009"]
    assert finding.code == "outlier_temperature_busy" and finding.evidence["z"] > 3.5
    assert finding.evidence["cohort"] == "model NVIDIA H100 80GB HBM3"


def test_low_side_only_and_small_cohorts_are_not_judged():
    hosts = fleet()
    edit(hosts, "gpu002", pcie_width_max=32)  # wider than peers: not a fault
    edit(hosts, "gpu003", pcie_width_max=8)
    assert {f.code for f in outlier_findings(hosts, {})["gpu003"]} == {"outlier_pcie_width"}
    assert "gpu002" not in outlier_findings(hosts, {})
    small = fleet(4)
    edit(small, "gpu001", power_limit_w=300.0)
    assert outlier_findings(small, {}) == {}


def test_outlier_rules_are_explained():
    info = rule_info("outlier_power_limit")
    assert info is not None and "Iglewicz" in info.source
