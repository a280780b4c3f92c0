"""Findings: each check fires on the condition it names, and stays quiet on the healthy H100."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dcctl.checks.findings import Severity
from dcctl.checks.profile import evaluate
from dcctl.inventory.model import GpuSpec, InfinibandSpec, NicSpec, PowerLimits, Profile
from dcctl.probes.bundle import read_bundle
from dcctl.probes.gpu import GpuProbe
from dcctl.probes.gpu_model import GpuReport, XidEvent
from dcctl.probes.network import IbPort, Interface, NetworkReport
from dcctl.probes.security import PathDir, SecurityReport
from dcctl.probes.storage import Filesystem, StorageReport
from dcctl.source.diagnostics import Loc

H100 = Path(__file__).parent / "fixtures" / "h100-idle"
LOC = Loc("inv.yaml", 1, 1)


def h100_report(count: int = 8) -> GpuReport:
    report = GpuProbe().parse(read_bundle(H100, GpuProbe.steps))
    base = report.gpus[0]
    report.gpus = [replace(base, index=i) for i in range(count)]
    return report


def profile(**gpu) -> Profile:
    spec = dict(
        model="NVIDIA H100 80GB HBM3",
        count=8,
        power_limits=PowerLimits(200, 700, 700),
        driver="580.159.04",
    )
    spec.update(gpu)
    return Profile("h100-8x", LOC, gpu=GpuSpec(**spec),
                   nic=NicSpec(count=2, speed_gbps=100, mtu=9000),
                   infiniband=InfinibandSpec(ports=2, rate_gbps=400))  # fmt: skip


def codes(findings, at_least=Severity.info):
    return sorted(f.code for f in findings if f.severity >= at_least)


def test_healthy_h100_has_no_gpu_findings():
    assert codes(evaluate({"gpu": h100_report()}, profile())) == []


@pytest.mark.parametrize(
    ("change", "code", "severity"),
    [
        (lambda r: r.gpus.pop(), "gpu_missing", Severity.critical),
        (lambda r: r.gpus.append(replace(r.gpus[0], index=8)), "gpu_extra", Severity.warning),
        (lambda r: setattr(r.gpus[3], "name", "NVIDIA H200"), "gpu_model", Severity.critical),
        (lambda r: setattr(r, "driver_version", "550.54.15"), "driver_mismatch", Severity.warning),
        (
            lambda r: setattr(r.gpus[1], "power_limit_w", 500.0),
            "power_limit_not_default",
            Severity.info,
        ),
        (lambda r: setattr(r.gpus[2], "pcie_width", 8), "pcie_width_low", Severity.warning),
        (lambda r: setattr(r.gpus[2], "pcie_gen", 1), "pcie_gen_low", Severity.info),
        (lambda r: setattr(r.gpus[0], "ecc_enabled", False), "ecc_off", Severity.warning),
        (
            lambda r: setattr(r.gpus[0], "ecc_uncorrected_volatile", 2),
            "ecc_uncorrectable",
            Severity.critical,
        ),
        (
            lambda r: setattr(r.gpus[0], "remapped_rows_pending", True),
            "remap_pending",
            Severity.critical,
        ),
        (
            lambda r: setattr(r.gpus[0], "remapped_rows_failure", True),
            "remap_failure",
            Severity.critical,
        ),
        (
            lambda r: setattr(r.gpus[0], "clock_event_reasons", ["hw_thermal_slowdown"]),
            "throttled",
            Severity.warning,
        ),
        (
            lambda r: r.xid_events.append(XidEvent(79, "0000:18:00", "...")),
            "xid_79",
            Severity.critical,
        ),
        (
            lambda r: r.xid_events.append(XidEvent(13, "0000:18:00", "...")),
            "xid_13",
            Severity.warning,
        ),
    ],
)
def test_each_gpu_check(change, code, severity):
    report = h100_report()
    change(report)
    found = [f for f in evaluate({"gpu": report}, profile()) if f.code == code]
    assert [f.severity for f in found] == [severity]


def test_busy_gpu_with_low_pcie_gen_is_a_warning():
    report = h100_report()
    report.gpus[0].pcie_gen, report.gpus[0].utilization_pct = 3, 90.0
    (finding,) = [f for f in evaluate({"gpu": report}, profile()) if f.code == "pcie_gen_low"]
    assert finding.severity is Severity.warning and finding.subject == "GPU0"


def test_no_driver_when_gpus_are_expected():
    report = GpuReport(False, error="no NVIDIA driver: nvidia-smi not found")
    (finding,) = evaluate({"gpu": report}, profile())
    assert (finding.code, finding.severity) == ("no_driver", Severity.critical)
    assert "expects 8 GPUs" in finding.message
    assert evaluate({"gpu": report}, None) == []  # no profile, no expectation


def test_network_against_profile():
    net = NetworkReport(
        interfaces=[
            Interface("ens1", mtu=9000, operstate="up", speed_mbps=100000),
            Interface("ens2", mtu=1500, operstate="up", speed_mbps=25000),
            Interface("lo", mtu=65536, operstate="unknown"),
        ],
        ib_ports=[
            IbPort("mlx5_0", 1, "ACTIVE", "LinkUp", 200.0, "InfiniBand"),
            IbPort("mlx5_1", 1, "DOWN", "Disabled", 10.0, "InfiniBand"),
        ],
    )
    found = {f.code: f for f in evaluate({"network": net}, profile())}
    assert sorted(found) == ["ib_ports_down", "ib_rate_low", "link_speed_low", "mtu_low"]
    assert found["link_speed_low"].message == "1 of 2 links at 100 Gb/s or more (slower: ens2 25G)"
    assert found["mtu_low"].subject == "ens2"


def test_storage_and_security_findings():
    storage = StorageReport(
        filesystems=[
            Filesystem("/dev/sda1", "ext4", "/", 100, 96, 4, 96.0, read_only=False),
            Filesystem("/dev/sdb1", "xfs", "/data", 100, 91, 9, 91.0, read_only=True),
            Filesystem("tmpfs", "tmpfs", "/dev/shm", 100, 100, 0, 100.0),
        ]
    )
    security = SecurityReport(
        sshd={"permitrootlogin": "yes", "passwordauthentication": "no"},
        path_dirs=[PathDir("/opt/bin", "777", "root"), PathDir("/usr/local/bin", "755", "ops")],
    )
    found = evaluate({"storage": storage, "security": security}, None)
    assert [(f.severity.name, f.code, f.subject) for f in found] == [
        ("critical", "fs_full", "/"),
        ("critical", "path_world_writable", "/opt/bin"),
        ("warning", "fs_full", "/data"),
        ("warning", "fs_read_only", "/data"),
        ("warning", "ssh_root_password", "sshd"),
        ("warning", "path_not_root_owned", "/usr/local/bin"),
    ]
