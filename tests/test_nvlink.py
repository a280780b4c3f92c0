"""The nvlink probe (a new probe: its module and one registration line) and its rules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dcctl.checks.findings import Action, Severity
from dcctl.checks.nvlink import nvlink_findings
from dcctl.inventory.model import GpuSpec, Profile
from dcctl.probes.base import Output
from dcctl.probes.bundle import read_bundle
from dcctl.probes.nvlink import NvlinkProbe, parse_nvlink_errors, parse_nvlink_status
from dcctl.probes.registry import PROBES
from dcctl.source.diagnostics import Loc

CAPTURE = Path(__file__).resolve().parent / "fixtures" / "h100-idle"

# The layout of `nvidia-smi nvlink -s` / `-e` as NVIDIA documents it (no NVLink capture here).
STATUS = """\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)
\t Link 0: 26.562 GB/s
\t Link 1: 26.562 GB/s
\t Link 2: 26.562 GB/s
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)
\t Link 0: 26.562 GB/s
\t Link 1: <inactive>
\t Link 2: 26.562 GB/s
"""
ERRORS = """\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)
\t Link 0: Replay Errors: 0
\t Link 0: Recovery Errors: 0
\t Link 0: CRC Errors: 0
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)
\t Link 0: Replay Errors: 3
\t Link 0: Recovery Errors: 1
\t Link 2: CRC Errors: 7
"""


def profile(links):
    gpu = GpuSpec("NVIDIA H100 80GB HBM3", 2, nvlink_links=links)
    return Profile("p", Loc("inv.yaml", 1, 1), gpu=gpu)


def parsed():
    return NvlinkProbe().parse({
        "nvlink.status": Output("nvidia-smi nvlink -s", STATUS, 0),
        "nvlink.errors": Output("nvidia-smi nvlink -e", ERRORS, 0),
    })  # fmt: skip


def test_registered_in_order_with_the_gpu_probe():
    assert list(PROBES)[:2] == ["gpu", "nvlink"]


def test_parsers():
    gpus = parse_nvlink_status(STATUS)
    assert [(g.index, g.uuid, g.active, len(g.links)) for g in gpus] == [
        (0, "GPU-aaaa", 3, 3),
        (1, "GPU-bbbb", 2, 3),
    ]
    assert gpus[1].links[1] is None and gpus[0].links[0] == 26.562
    errors = parse_nvlink_errors(ERRORS)
    assert errors[1] == {0: {"replay": 3, "recovery": 1}, 2: {"crc": 7}}


def test_links_down_against_the_profile():
    found = {(f.subject, f.code): f for f in nvlink_findings(parsed(), profile(3))}
    down = found["GPU1", "nvlink_down"]
    assert (down.severity, down.action) == (Severity.critical, Action.reset_gpu)
    assert down.evidence == {"active": 2, "expected": 3, "inactive": [1]}
    assert ("GPU0", "nvlink_down") not in found
    errors = found["GPU1", "nvlink_errors"]
    assert errors.severity is Severity.warning and errors.evidence == {
        "crc": 7, "recovery": 1, "replay": 3,
    }  # fmt: skip


def test_pcie_gpus_expect_no_nvlink_and_unknown_counts_only_warn():
    assert nvlink_findings(parsed(), profile(0)) == []
    codes = {f.code for f in nvlink_findings(parsed(), profile(None))}
    assert codes == {"nvlink_inactive", "nvlink_errors"}


def test_real_capture_without_nvlink():
    # The H100 capture is one passed-through GPU: `nvidia-smi nvlink -s` prints nothing.
    probe = NvlinkProbe()
    report = probe.parse(read_bundle(CAPTURE, probe.steps))
    assert report.gpus == [] and report.error is None
    assert probe.summarize(report) == "no NVLink"
    assert nvlink_findings(report, None) == []
    (finding,) = nvlink_findings(report, profile(18))
    assert finding.code == "nvlink_down" and "expects 18" in finding.message


def test_missing_tool_and_unsupported():
    probe = NvlinkProbe()
    missing = probe.parse({"nvlink.status": Output("x", "sh: nvidia-smi: not found", 127)})
    assert not missing.supported and nvlink_findings(missing, profile(18)) == []
    unsupported = probe.parse({"nvlink.status": Output("x", "NVLink is not supported", 3)})
    assert not unsupported.supported
    assert replace(unsupported).gpus == []
