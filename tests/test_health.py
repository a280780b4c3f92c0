"""dcctl health: Xid rules from NVIDIA's catalogue (data), verdicts with actions, unknown when
a probe never answered, and the formats monitoring reads: Nagios, Prometheus (checked by
promtool and served by a real node_exporter), JSON."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.checks.findings import Action, Severity
from dcctl.checks.xid import load_catalog, xid_findings
from dcctl.cli import app
from dcctl.model.command import Command, CommandResult
from dcctl.model.monitoring import PerfData
from dcctl.probes.gather import probe_host
from dcctl.probes.gpu import parse_xid
from dcctl.probes.registry import PROBES
from dcctl.render.writers.nagios import perfdata_text
from dcctl.render.writers.prometheus import exposition, write_textfile
from dcctl.survey.health import judge, judge_fleet, metrics
from dcctl.transport.fake import FakeTransport

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "inventory" / "example.yaml")
CAPTURE = ROOT / "tests" / "fixtures" / "h100-idle"


def test_catalogue_is_versioned_data_with_the_documented_actions():
    catalog = load_catalog()
    assert "2025-10-29" in catalog.version and catalog.source.startswith("https://docs.nvidia")
    by = catalog.entries
    assert (by[79].severity, by[79].action) == (Severity.critical, Action.reboot_node)
    assert (by[63].severity, by[92].severity) == (Severity.info, Severity.info)  # IGNORE
    assert (by[94].severity, by[94].action) == (Severity.warning, Action.restart_application)
    assert by[95].action is Action.reset_gpu and by[54].action is Action.inspect_hardware
    assert by[168].action is Action.reboot_node  # r590
    assert len(by) > 100


DMESG = """\
[  100.000001] NVRM: Xid (PCI:0000:18:00): 13, pid=4242, name=python, Graphics Exception
[  200.500000] NVRM: Xid (PCI:0000:18:00): 13, pid=4242, name=python, Graphics Exception
[  300.250000] NVRM: Xid (PCI:0000:18:00): 13, pid=4243, name=python, Graphics Exception
[  400.000000] NVRM: Xid (PCI:0000:2a:00): 48, pid='<unknown>', name=<unknown>, DBE (0x1)
[  401.000000] NVRM: Xid (PCI:0000:2a:00): 63, pid='<unknown>', name=<unknown>, Row remap
[  500.000000] NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.
[  600.000000] NVRM: Xid (0000:4c:00) GPU-I:05: 94, pid=1, name=x, Contained ECC error
[  700.000000] NVRM: Xid (PCI:0000:5d:00): 154, GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)
[  800.000000] NVRM: Xid (PCI:0000:6e:00): 999, pid=1, name=x, from a newer driver
"""  # noqa: E501


def test_xid_rules_dedup_workflows_and_unknown_codes():
    events = parse_xid(DMESG)
    assert [e.code for e in events] == [13, 13, 13, 48, 63, 79, 94, 154, 999]
    found = {(f.subject, f.code): f for f in xid_findings(events)}
    x13 = found["0000:18:00", "xid_13"]
    assert x13.evidence["count"] == 3 and x13.evidence["first_seen_s"] == 100.000001
    assert x13.evidence["last_seen_s"] == 300.25 and x13.evidence["since"] == "boot"
    assert x13.action is Action.restart_application and x13.severity is Severity.warning
    x48 = found["0000:2a:00", "xid_48"]
    assert (x48.severity, x48.action) == (Severity.critical, Action.drain_and_reset)
    assert found["0000:2a:00", "xid_63"].severity is Severity.info  # IGNORE on its own
    x79 = found["0000:3b:00.0", "xid_79"]  # no Xid token in that line
    assert (x79.severity, x79.action) == (Severity.critical, Action.reboot_node)
    assert found["0000:4c:00", "xid_94"].action is Action.restart_application
    x154 = found["0000:5d:00", "xid_154"]
    assert (x154.severity, x154.action) == (Severity.critical, Action.reset_gpu)
    x999 = found["0000:6e:00", "xid_999"]
    assert (x999.severity, x999.action) == (Severity.warning, Action.monitor)
    assert "not in the catalogue" in x999.message
    assert all("NVIDIA Xid catalogue" in f.source for f in found.values())


def faulty_bundle(tmp_path: Path, dmesg: str) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(CAPTURE, bundle)
    path = bundle / "dmesg_xid.txt"
    text = path.read_text().replace("# rc=0", dmesg.rstrip("\n") + "\n# rc=0")
    path.write_text(text)
    return bundle


def test_untouched_capture_is_ok_and_a_fault_is_critical_with_its_action(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["-i", EXAMPLE, "-o", "json", "health", "--from-bundle", str(CAPTURE)])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["schema"] == "dcctl.health/1" and doc["verdict"] == "ok"
    assert doc["hosts"][0]["findings"] == []
    bundle = faulty_bundle(
        tmp_path, "[ 5.0] NVRM: Xid (PCI:0000:00:06): 79, pid='<unknown>', GPU has fallen off"
    )
    bad = runner.invoke(app, ["-i", EXAMPLE, "-o", "json", "health", "--from-bundle", str(bundle)])
    assert bad.exit_code == 1, bad.output
    host = json.loads(bad.stdout)["hosts"][0]
    assert host["verdict"] == "critical" and host["actions"] == ["reboot_node"]
    (finding,) = host["findings"]
    assert finding["code"] == "xid_79" and finding["evidence"]["first_seen_s"] == 5.0
    nagios = runner.invoke(app, ["-i", EXAMPLE, "-o", "nagios", "health", "--from-bundle",
                                 str(bundle)])  # fmt: skip
    assert nagios.exit_code == 2
    line = nagios.stdout.splitlines()[0]
    assert line.startswith("DCCTL CRITICAL - 1 of 1 hosts critical: bundle 0000:00:06 xid_79")
    assert "|hosts_ok=0;;;0;1 hosts_warning=0;;;0;1 hosts_critical=1;;;0;1" in line
    table = runner.invoke(app, ["-i", EXAMPLE, "health", "--from-bundle", str(bundle)])
    assert "bundle: critical: reboot_node" in table.stdout
    assert "→ reboot_node [NVIDIA Xid catalogue" in table.stdout


def script_keys(script: str) -> tuple[str, list[str]]:
    """The frame boundary of a probe script and the step keys it runs, in order."""
    boundary = re.search(r"DCCTL-[0-9a-f]{16}", script).group(0)
    keys = re.findall(rf"{boundary} ([a-z]+\.[a-z_.]+)", script)
    return boundary, list(dict.fromkeys(keys))


def framed(script: str, drop: set[str]) -> str:
    """Answer a probe script from the H100 capture, leaving out the steps in ``drop``."""
    boundary, keys = script_keys(script)
    files = {"sys.uname": "uname.txt", "sys.os": "os_release.txt",
             "sys.cpu": "lscpu.json", "sys.mem": "meminfo.txt"}  # fmt: skip
    out = []
    for key in keys:
        if key in drop:
            continue
        name = files.get(key)
        text = (CAPTURE / name).read_text().split("\n", 1)[1] if name else ""
        out.append(f"{boundary} BEGIN {key}\n{text}\n{boundary} END {key} rc=0\n")
    return "".join(out)


def test_a_step_whose_frame_never_came_makes_its_probe_unknown_not_ok():
    def answer(command: Command) -> CommandResult:
        script = command.argv[2]
        drop = {k for k in script_keys(script)[1] if k.startswith("disk.")}
        return CommandResult(0, framed(script, drop))

    transport = FakeTransport("n1", {r"sh -c .*": answer})
    report = probe_host(transport, [PROBES["system"], PROBES["storage"]])
    assert list(report.unknown) == ["storage"]  # system answered in full
    assert "no output came back" in report.unknown["storage"]
    assert report.results["system"].kernel
    verdict = judge(report)
    assert verdict.verdict == "unknown" and verdict.findings == []


def test_nvidia_smi_missing_is_unknown_where_gpus_are_expected_and_na_elsewhere():
    def answer(command: Command) -> CommandResult:
        boundary, keys = script_keys(command.argv[2])
        return CommandResult(0, "".join(
            f"{boundary} BEGIN {k}\nsh: 1: nvidia-smi: not found\n{boundary} END {k} rc=127\n"
            if k != "gpu.xid" else f"{boundary} BEGIN {k}\n\n{boundary} END {k} rc=0\n"
            for k in keys
        ))  # fmt: skip

    report = probe_host(FakeTransport("n1", {r"sh -c .*": answer}), [PROBES["gpu"]])
    assert judge(report, gpus_expected=8).verdict == "unknown"
    assert judge(report, gpus_expected=None).unknown["gpu"].endswith("nvidia-smi not found")
    na = judge(report, gpus_expected=0)
    assert na.verdict == "ok" and "not applicable" in na.notes[0]


def test_nagios_perfdata_format():
    assert perfdata_text(PerfData("hosts_ok", 14, minimum=0, maximum=16)) == "hosts_ok=14;;;0;16"
    assert perfdata_text(PerfData("load 1", 4.04, 50, 60, 0)) == "'load 1'=4.04;50;60;0"


def prometheus_tools() -> str | None:
    missing = [t for t in ("promtool", "prometheus-node-exporter") if shutil.which(t) is None]
    return f"not installed: {', '.join(missing)} (.ci/run installs them)" if missing else None


needs_prometheus = pytest.mark.skipif(
    prometheus_tools() is not None and not os.environ.get("CI"), reason=prometheus_tools() or ""
)


def fleet_metrics(tmp_path):
    bundle = faulty_bundle(
        tmp_path, "[ 5.0] NVRM: Xid (PCI:0000:00:06): 79, pid='<unknown>', name=\"x\\y\""
    )
    runner = CliRunner()
    out = tmp_path / "textfile" / "dcctl.prom"
    out.parent.mkdir()
    result = runner.invoke(app, ["-i", EXAMPLE, "health", "--from-bundle", str(bundle),
                                 "--prometheus-textfile", str(out)])  # fmt: skip
    assert result.exit_code == 1, result.output
    return out


@needs_prometheus
def test_textfile_passes_promtool_and_node_exporter_serves_every_series(tmp_path):
    out = fleet_metrics(tmp_path)
    text = out.read_text()
    assert 'dcctl_host_verdict{host="bundle"} 2' in text
    assert (
        'dcctl_finding{action="reboot_node",gpu="0000:00:06",host="bundle",rule="xid_79",'
        'severity="critical"} 1' in text
    )
    assert 'dcctl_gpu_power_limit_watts{gpu="0",host="bundle",' in text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           capture_output=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exporter = subprocess.Popen(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
         f"--collector.textfile.directory={out.parent}", "--collector.disable-defaults",
         "--collector.textfile"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        served = ""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    served = r.read().decode()
                break
            except OSError:
                time.sleep(0.1)

        def samples(exposition_text):
            out = {}
            for line in exposition_text.splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    out[name] = float(value)
            return out

        ours, theirs = samples(text), samples(served)
        assert ours and {k: theirs.get(k) for k in ours} == ours  # every series, same value
        assert "node_textfile_scrape_error 0" in served
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)


def test_textfile_is_written_atomically_and_named_prom(tmp_path):
    fleet = judge_fleet([])
    path = tmp_path / "x.prom"
    write_textfile(path, metrics(fleet))
    assert path.exists() and list(tmp_path.iterdir()) == [path]  # no temporary file left
    with pytest.raises(Exception, match=r"\*\.prom"):
        write_textfile(tmp_path / "x.txt", metrics(fleet))
    assert exposition([]) == "\n"


@pytest.mark.parametrize(
    ("field", "value", "code", "severity", "action"),
    [
        ("ecc_uncorrected_volatile", 2, "ecc_uncorrectable", Severity.critical, Action.reset_gpu),
        ("ecc_uncorrected_aggregate", 5, "ecc_uncorrectable_history", Severity.warning,
         Action.monitor),
        ("remapped_rows_pending", True, "remap_pending", Severity.critical, Action.reset_gpu),
        ("remapped_rows_failure", True, "remap_failure", Severity.critical,
         Action.inspect_hardware),
        ("retired_pages_pending", True, "retired_pages_pending", Severity.critical,
         Action.reset_gpu),
        ("remapped_rows_uncorrectable", 512, "remaps_exhausting", Severity.warning,
         Action.inspect_hardware),
    ],
)  # fmt: skip
def test_memory_findings_carry_their_action_and_source(field, value, code, severity, action):
    from dataclasses import replace

    from dcctl.checks.health import gpu_findings
    from dcctl.probes.bundle import read_bundle
    from dcctl.probes.gpu import GpuProbe

    probe = GpuProbe()
    report = probe.parse(read_bundle(CAPTURE, probe.steps))
    assert gpu_findings(report) == []  # the untouched capture
    report.gpus[0] = replace(report.gpus[0], **{field: value})
    (finding,) = gpu_findings(report)
    assert (finding.code, finding.severity, finding.action) == (code, severity, action)
    assert finding.source


POLICY = """\
rules:
  - rule: xid_13
    hosts: "@canary"
    ignore: true
  - rule: xid_13
    severity: critical
    action: drain
    note: application errors take down whole training jobs here
  - rule: "nvlink_*"
    action: inspect_hardware
"""


def test_policy_ignores_or_rerates_per_rule_and_hosts(tmp_path):
    from dcctl.checks.findings import Finding
    from dcctl.checks.policy import read_policy
    from dcctl.inventory.loader import load_inventory

    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    policy = read_policy(path, load_inventory(EXAMPLE))
    finding = Finding(Severity.warning, "gpu", "xid_13", "Xid 13", "GPU0",
                      Action.restart_application, "catalogue")  # fmt: skip
    assert policy.apply("gpu001", [finding]) == []  # gpu001 is a canary
    (rerated,) = policy.apply("gpu002", [finding])
    assert (rerated.severity, rerated.action) == (Severity.critical, Action.drain)
    assert rerated.evidence["policy"] == f"{path}:5:5"
    nvlink = Finding(Severity.critical, "nvlink", "nvlink_down", "x", "GPU1", Action.reset_gpu)
    (changed,) = policy.apply("gpu003", [nvlink])
    assert changed.action is Action.inspect_hardware and changed.severity is Severity.critical


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  - {rule: nvlink_dwn, ignore: true}",
         "rules[0].rule: no rule 'nvlink_dwn' (did you mean 'nvlink_down'?)"),
        ("  - {rule: xid_13, severity: fatal}",
         "rules[0].severity: must be one of 'warning', 'critical'"),
        ("  - {rule: xid_13, action: panic}", "rules[0].action: must be one of"),
        ("  - {rule: xid_13, hosts: '@nope', ignore: true}",
         "rules[0].hosts: unknown group '@nope'"),
        ("  - {rule: xid_13}", "rules[0]: an entry needs ignore: true, a severity or an action"),
    ],
)  # fmt: skip
def test_bad_policies_are_located(tmp_path, entry, message):
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n" + entry + "\n")
    result = CliRunner().invoke(app, ["-i", EXAMPLE, "health", "--policy", str(path),
                                      "--explain", "xid_13"])  # fmt: skip
    assert result.exit_code == 64, result.output
    assert f"{path}:2:" in result.output and message in result.output


def test_policy_applies_in_a_run_and_explain_shows_it(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - {rule: xid_79, ignore: true, note: known bad riser}\n")
    bundle = faulty_bundle(tmp_path, "[ 5.0] NVRM: Xid (PCI:0000:00:06): 79, GPU has fallen off")
    runner = CliRunner()
    result = runner.invoke(app, ["-i", EXAMPLE, "health", "--from-bundle", str(bundle),
                                 "--policy", str(path)])  # fmt: skip
    assert result.exit_code == 0 and "bundle: ok" in result.output
    explain = runner.invoke(app, ["-i", EXAMPLE, "health", "--explain", "xid_79", "--policy",
                                  str(path)])  # fmt: skip
    assert explain.exit_code == 0
    assert "xid_79: Xid 79: GPU has fallen off the bus (immediate action RESTART_BM)" in (
        explain.output
    )
    assert "default: critical, action reboot_node" in explain.output
    assert f"site policy {path}:2:5: ignored (known bad riser)" in explain.output


def edited_capture(tmp_path: Path, name: str, edits: list[tuple[str, str]]) -> Path:
    """The H100 capture with its nvidia-smi query outputs edited (the same in both forms)."""
    bundle = tmp_path / name
    shutil.copytree(CAPTURE, bundle)
    for file in ("nvsmi_query.csv", "nvsmi_query_nounits.csv"):
        path = bundle / file
        text = path.read_text()
        for old, new in edits:
            assert old in text, (file, old)
            text = text.replace(old, new)
        path.write_text(text)
    return bundle


def test_baseline_records_and_reports_drift(tmp_path):
    runner = CliRunner()
    baseline = tmp_path / "baseline.json"
    good = tmp_path / "host1"
    shutil.copytree(CAPTURE, good)
    saved = runner.invoke(app, ["-i", EXAMPLE, "health", "baseline", "save", str(baseline),
                                "--from-bundle", str(good)])  # fmt: skip
    assert saved.exit_code == 0, saved.output
    doc = json.loads(baseline.read_text())
    gpu = doc["hosts"]["host1"]["gpus"]["00000000:00:06.0"]
    assert gpu["serial"] == "1752824019597" and gpu["pcie_width_max"] == 16
    same = runner.invoke(app, ["-i", EXAMPLE, "health", "--from-bundle", str(good),
                               "--baseline", str(baseline)])  # fmt: skip
    assert same.exit_code == 0 and "host1: ok" in same.output
    # The same slot later: VBIOS flashed, the link trained down to x8, 3 more uncorrectable
    # errors in the GPU's lifetime.
    drifted = edited_capture(tmp_path / "later", "host1", [
        ("96.00.DA.00.0C", "96.00.DA.00.0D"), ("5, 5, 16, 16, Enabled, 0, 0, 0",
                                              "5, 5, 8, 8, Enabled, 0, 0, 3"),
    ])  # fmt: skip
    result = runner.invoke(app, ["-i", EXAMPLE, "-o", "json", "health", "--from-bundle",
                                 str(drifted), "--baseline", str(baseline)])  # fmt: skip
    assert result.exit_code == 1, result.output
    host = json.loads(result.stdout)["hosts"][0]
    codes = {f["code"]: f for f in host["findings"]}
    assert set(codes) == {"vbios_changed", "pcie_slower_than_baseline",
                          "ecc_uncorrected_aggregate_grown"}  # fmt: skip
    grown = codes["ecc_uncorrected_aggregate_grown"]
    assert grown["severity"] == "critical" and grown["evidence"] == {"was": 0, "now": 3}
    assert codes["pcie_slower_than_baseline"]["evidence"] == {"was": 16, "now": 8}
    assert host["verdict"] == "critical"
    # A swapped GPU: another serial in the slot; its counters start afresh.
    swapped = edited_capture(tmp_path / "swap", "host1", [
        ("1752824019597", "1752824019999"), ("Enabled, 0, 0, 0", "Enabled, 0, 0, 9"),
    ])  # fmt: skip
    result = runner.invoke(app, ["-i", EXAMPLE, "-o", "json", "health", "--from-bundle",
                                 str(swapped), "--baseline", str(baseline)])  # fmt: skip
    host = json.loads(result.stdout)["hosts"][0]
    assert [f["code"] for f in host["findings"]] == ["gpu_swapped"]
    assert host["findings"][0]["evidence"] == {"was": "1752824019597", "now": "1752824019999"}


def test_a_gpu_gone_from_its_slot_is_critical():
    from dcctl.checks.baseline import drift_findings

    was = {"gpus": {"0000:18:00.0": {"serial": "a"}, "0000:2a:00.0": {"serial": "b"}},
           "ib_ports": {"mlx5_0/1": 400.0}}  # fmt: skip
    now = {"gpus": {"0000:18:00.0": {"serial": "a"}}, "ib_ports": {"mlx5_0/1": 200.0}}
    found = {(f.code, f.subject): f for f in drift_findings(now, was)}
    gone = found["gpu_gone", "0000:2a:00.0"]
    assert (gone.severity, gone.action) == (Severity.critical, Action.inspect_hardware)
    assert found["ib_slower_than_baseline", "mlx5_0/1"].evidence == {"was": 400.0, "now": 200.0}


def test_a_damaged_baseline_is_a_located_error(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{"schema": "dcctl.health.baseline/1",\n "hosts": {"h": [}\n')
    runner = CliRunner()
    result = runner.invoke(app, ["-i", EXAMPLE, "health", "--from-bundle", str(CAPTURE),
                                 "--baseline", str(path)])  # fmt: skip
    assert result.exit_code == 64 and f"{path}:2:" in result.output
    assert "baseline" in result.output
    path.write_text('{"schema": "something else"}')
    result = runner.invoke(app, ["-i", EXAMPLE, "health", "--from-bundle", str(CAPTURE),
                                 "--baseline", str(path)])  # fmt: skip
    assert result.exit_code == 64 and "not a dcctl baseline" in result.output


def test_the_drivers_own_verdict_and_thermal_margin():
    from dcctl.checks.health import gpu_findings
    from dcctl.probes.base import Output
    from dcctl.probes.bundle import read_bundle
    from dcctl.probes.gpu import GpuProbe, parse_verdict

    # nvidia-smi --query-gpu=index,gpu_recovery_action,temperature.gpu.tlimit (csv, nounits);
    # the capture's -q says "GPU Recovery Action : None" and "GPU T.Limit Temp : 53 C".
    assert parse_verdict("0, None, 53\n1, GPU Reset, 2\n2, [N/A], [N/A]\n") == {
        0: ("None", 53.0), 1: ("GPU Reset", 2.0), 2: (None, None),
    }  # fmt: skip
    probe = GpuProbe()
    outputs = dict(read_bundle(CAPTURE, probe.steps))
    outputs["gpu.verdict"] = Output("nvidia-smi", "0, Drain and Reset, -1\n", 0)
    report = probe.parse(outputs)
    found = {f.code: f for f in gpu_findings(report)}
    assert found["gpu_recovery_action"].action is Action.drain_and_reset
    assert found["thermal_limit"].severity is Severity.critical
    outputs["gpu.verdict"] = Output("nvidia-smi", "0, None, 53\n", 0)
    assert gpu_findings(probe.parse(outputs)) == []
    outputs["gpu.verdict"] = Output("nvidia-smi", 'Field "gpu_recovery_action" is not valid', 2)
    report = probe.parse(outputs)  # an older driver: this step fails, the rest stands
    assert report.driver_present and report.gpus[0].recovery_action is None


def test_named_infiniband_ports_judged_by_name():
    from dcctl.checks.profile import named_ib_findings
    from dcctl.probes.network import IbPort, NetworkReport

    report = NetworkReport(ib_ports=[
        IbPort("mlx5_0", 1, "ACTIVE", "LinkUp", 400.0, "InfiniBand"),
        IbPort("mlx5_1", 1, "DOWN", "Polling", None, "InfiniBand"),
        IbPort("mlx5_2", 1, "DOWN", "Disabled", None, "InfiniBand"),
        IbPort("mlx5_3", 1, "ACTIVE", "LinkUp", 200.0, "InfiniBand"),
        IbPort("mlx5_8", 1, "DOWN", "Polling", None, "InfiniBand"),  # not named: ignored
    ])  # fmt: skip
    names = ("mlx5_0", "mlx5_1", "mlx5_2/1", "mlx5_3", "mlx5_4")
    found = {f.subject: (f.code, f.action) for f in named_ib_findings(report, names, 400.0)}
    assert found == {
        "mlx5_1": ("ib_port_down", Action.check_cabling),
        "mlx5_2/1": ("ib_port_down", Action.fix_configuration),
        "mlx5_3": ("ib_rate_low", Action.check_cabling),
        "mlx5_4": ("ib_port_missing", Action.inspect_hardware),
    }


def test_infiniband_names_must_match_the_port_count(tmp_path):
    from dcctl.inventory.loader import check_inventory

    path = tmp_path / "inv.yaml"
    path.write_text("profiles:\n  p:\n    infiniband: {ports: 2, names: [mlx5_0]}\n"
                    "hosts: [{name: a, profile: p}]\n")  # fmt: skip
    (error,) = check_inventory(path).errors
    assert error.path == "profiles.p.infiniband.names" and "1 names for 2 ports" in error.message


def test_nvlink_errors_judged_by_their_growth_since_the_baseline():
    from dcctl.checks.baseline import drift_findings

    was = {"gpus": {"b": {"serial": "s", "nvlink_errors": {"replay": 2, "crc": 5}}}}
    same = {"gpus": {"b": {"serial": "s", "nvlink_errors": {"replay": 2, "crc": 5}}}}
    assert drift_findings(same, was) == []
    crc = {"gpus": {"b": {"serial": "s", "nvlink_errors": {"replay": 2, "crc": 9}}}}
    (finding,) = drift_findings(crc, was)
    assert (finding.code, finding.severity, finding.evidence) == (
        "nvlink_errors_grown", Severity.warning, {"crc": 4},
    )  # fmt: skip
    replay = {"gpus": {"b": {"serial": "s", "nvlink_errors": {"replay": 3, "crc": 5}}}}
    (finding,) = drift_findings(replay, was)
    assert (finding.severity, finding.action) == (Severity.critical, Action.reset_gpu)


def test_configuration_drift_from_the_profile():
    from dcctl.checks.profile import gpu_profile_findings
    from dcctl.inventory.model import GpuSpec, Profile
    from dcctl.probes.bundle import read_bundle
    from dcctl.probes.gpu import GpuProbe
    from dcctl.source.diagnostics import Loc

    probe = GpuProbe()
    report = probe.parse(read_bundle(CAPTURE, probe.steps))
    spec = GpuSpec("NVIDIA H100 80GB HBM3", 1, mig=False)
    profile = Profile("p", Loc("inv.yaml", 1, 1), gpu=spec)
    assert [f.code for f in gpu_profile_findings(report, profile)] == []
    from dataclasses import replace

    report.gpus[0] = replace(report.gpus[0], mig_enabled=True, persistence_mode=False)
    found = {f.code: f for f in gpu_profile_findings(report, profile)}
    assert set(found) == {"mig_mode", "persistence_off"}
    assert all(f.action is Action.fix_configuration for f in found.values())
