"""dcctl health on a loopback fleet of replayed H100 hosts with faults injected: every expected
finding and nothing else; the Nagios line and exit code; the Prometheus textfile.

Each host is a real sshd whose ``nvidia-smi`` replays the recorded H100 capture (8 GPUs); faults
are injected on the host: a kernel log with an Xid (a ``dmesg`` earlier on its PATH), a pending
row remap on one GPU, an nvidia-smi that hangs, a host that is down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.transport.hostkeys import host_id
from tests.sshd_harness import SshServer, free_port, new_key, sshd_available

reason = sshd_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)
XID_79 = (
    "[ 1234.567890] NVRM: Xid (PCI:0000:1a:00): 79, pid='<unknown>', name=<unknown>, "
    "GPU has fallen off the bus."
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    client = new_key(home / ".ssh" / "id_ed25519")
    ours = [f"ssh-ed25519 {client.get_base64()}"]
    quiet = "[    0.5] NVRM: loading NVIDIA UNIX Open Kernel Module for x86_64  580.159.04"
    servers = {
        "ok1": SshServer("ok1", "127.0.0.61", root / "ok1", ours, dmesg=quiet),
        "ok2": SshServer("ok2", "127.0.0.62", root / "ok2", ours, dmesg=quiet),
        "xid": SshServer("xid", "127.0.0.63", root / "xid", ours, dmesg=XID_79),
        "remap": SshServer("remap", "127.0.0.64", root / "remap", ours, dmesg=quiet,
                           overrides={"remapped_rows.pending": "Yes"}, override_gpu=3),
        "hang": SshServer("hang", "127.0.0.65", root / "hang", ours, nvidia="hang", dmesg=quiet),
        "asks": SshServer("asks", "127.0.0.67", root / "asks", ours, dmesg=quiet, override_gpu=5,
                          overrides={"gpu_recovery_action": "Node Reboot",
                                     "temperature.gpu.tlimit": "3"}),
    }  # fmt: skip
    for server in servers.values():
        server.start()
    (home / ".ssh" / "known_hosts").write_text("".join(
        f"{host_id(s.address, s.port)} ssh-ed25519 {s.host_key.get_base64()}\n"
        for s in servers.values()
    ))  # fmt: skip
    down = free_port("127.0.0.66")
    inventory = root / "inventory.yaml"
    inventory.write_text(
        textwrap.dedent(f"""\
        defaults:
          ssh: {{user: root, identity_file: {home}/.ssh/id_ed25519, connect_timeout: 3}}
        profiles:
          h100:
            gpu: {{model: NVIDIA H100 80GB HBM3, count: 8, driver: "580.159.04",
                   power_limit_w: {{min: 200, default: 700, max: 700}}}}
        hosts:
        """)
        + "".join(
            f"  - {{name: {n}, address: {s.address}, profile: h100, ssh: {{port: {s.port}}}}}\n"
            for n, s in servers.items()
        )
        + f"  - {{name: down, address: 127.0.0.66, profile: h100, ssh: {{port: {down}}}}}\n"
    )
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    os.environ.pop("SSH_AUTH_SOCK", None)
    yield {"inventory": inventory, "root": root}
    if old is not None:
        os.environ["HOME"] = old
    for server in servers.values():
        server.stop()


def run(fleet, *args):
    result = CliRunner().invoke(app, ["-i", str(fleet["inventory"]), *args])
    assert "Traceback" not in result.output
    return result


def test_every_expected_finding_and_nothing_else(fleet):
    result = run(fleet, "-o", "json", "health", "--timeout", "4", "--no-outliers")
    assert result.exit_code == 3, result.output  # a host down and one hung: 3 wins
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    verdicts = {name: h["verdict"] for name, h in hosts.items()}
    assert verdicts == {"ok1": "ok", "ok2": "ok", "xid": "critical", "remap": "critical",
                        "hang": "unknown", "down": "unknown", "asks": "critical"}  # fmt: skip
    found = {name: sorted((f["subject"], f["code"], f["action"]) for f in h["findings"])
             for name, h in hosts.items()}  # fmt: skip
    assert found == {
        "ok1": [], "ok2": [], "hang": [], "down": [],
        "xid": [("0000:1a:00", "xid_79", "reboot_node")],
        "remap": [("GPU3", "remap_pending", "reset_gpu")],
        "asks": [("GPU5", "gpu_recovery_action", "reboot_node"),
                 ("GPU5", "thermal_limit", "monitor")],
    }  # fmt: skip
    assert "timed out" in hosts["hang"]["unknown"]["gpu"]
    assert hosts["down"]["status"] == "unreachable"


def test_nagios_line_and_exit_code(fleet):
    result = run(fleet, "-o", "nagios", "health", "--timeout", "4", "-l", "ok1,ok2,xid,remap")
    assert result.exit_code == 2
    line = result.stdout.splitlines()[0]
    assert line.startswith("DCCTL CRITICAL - 2 of 4 hosts critical: ")
    assert "xid 0000:1a:00 xid_79 (reboot_node)" in line and "remap GPU3 remap_pending" in line
    assert line.endswith("hosts_ok=2;;;0;4 hosts_warning=0;;;0;4 hosts_critical=2;;;0;4 "
                         "hosts_unknown=0;;;0;4")  # fmt: skip
    ok = run(fleet, "-o", "nagios", "health", "--timeout", "4", "-l", "ok1,ok2")
    assert ok.exit_code == 0 and ok.stdout.startswith("DCCTL OK - 2 of 2 hosts ok|")
    unknown = run(fleet, "-o", "nagios", "health", "--timeout", "4", "-l", "ok1,down")
    assert unknown.exit_code == 3 and unknown.stdout.startswith("DCCTL UNKNOWN - 1 of 2")


@pytest.mark.skipif(shutil.which("promtool") is None and not os.environ.get("CI"),
                    reason="promtool not installed (.ci/run installs it)")  # fmt: skip
def test_textfile_for_the_fleet_passes_promtool(fleet):
    out = fleet["root"] / "dcctl.prom"
    result = run(fleet, "health", "--timeout", "4", "-l", "ok1,xid,remap",
                 "--prometheus-textfile", str(out))  # fmt: skip
    assert result.exit_code == 1
    text = out.read_text()
    assert 'dcctl_host_verdict{host="xid"} 2' in text and 'dcctl_host_verdict{host="ok1"} 0' in text
    assert text.count("dcctl_gpu_power_limit_watts{") == 24  # 3 hosts × 8 GPUs
    check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                           capture_output=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
