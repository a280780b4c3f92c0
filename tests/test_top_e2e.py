"""``dcctl top`` against real sshd hosts replaying the H100 capture (nvidia-smi with ``-lms``).

``--once`` (table at 80 columns, JSON), the live fleet (one stream per host, a host that stops
answering shown with its reason and reconnected), and the live screen in a real terminal (tmux
at 80 and 200 columns, keys g, s and q).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.inventory.loader import load_inventory
from dcctl.survey.top import LiveFleet, parse_gpu_line, power_totals
from tests.sshd_harness import (
    FIXTURES,
    SshServer,
    client_home,
    client_keys,
    free_port,
    sshd_available,
    write_known_hosts,
)
from tests.test_json_schemas import check

reason = sshd_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("top-fleet")
    home = root / "home"
    ours = client_keys(home)
    servers = {
        "gpu001": SshServer("gpu001", "127.0.0.91", root / "gpu001", ours,
                            apps=[(2, 4242, "/usr/bin/python3", 30000)]),
        "gpu002": SshServer("gpu002", "127.0.0.92", root / "gpu002", ours, override_gpu=5,
                            overrides={"power.draw": "690.50", "temperature.gpu": "87",
                                       "utilization.gpu": "100",
                                       "clocks_event_reasons.active": "0x0000000000000040"}),
        "cpu001": SshServer("cpu001", "127.0.0.93", root / "cpu001", ours, nvidia=None),
    }  # fmt: skip
    for server in servers.values():
        server.start()
    write_known_hosts(home, servers.values())
    down = free_port("127.0.0.94")
    inventory = root / "inventory.yaml"
    port = {name: s.port for name, s in servers.items()}
    members = "gpu[001-003],cpu001"
    inventory.write_text(
        textwrap.dedent(f"""\
        defaults:
          ssh: {{user: root, identity_file: {home}/.ssh/id_ed25519, connect_timeout: 2}}
        profiles:
          h100: {{baseline_w: 1000, gpu: {{model: NVIDIA H100 80GB HBM3, count: 8, tdp_w: 700}}}}
        hosts:
          - {{name: gpu001, address: 127.0.0.91, profile: h100, ssh: {{port: {port["gpu001"]}}}}}
          - {{name: gpu002, address: 127.0.0.92, profile: h100, ssh: {{port: {port["gpu002"]}}}}}
          - {{name: cpu001, address: 127.0.0.93, ssh: {{port: {port["cpu001"]}}}}}
          - {{name: gpu003, address: 127.0.0.94, profile: h100, ssh: {{port: {down}}}}}
        sites:
          - name: s1
            feeds: [{{name: feed-a, voltage: 415, amps: 63, phase: three, max_utilization: 80}}]
            rooms:
              - name: hall
                racks:
                  - name: rack-1
                    hosts: "{members}"
                    power_budget_w: 40000
                    pdus: [{{name: pdu-1, feed: feed-a, max_w: 30000, hosts: "{members}"}}]
        """)
    )
    with client_home(home):
        yield {"inventory": inventory, "servers": servers, "home": home, "root": root}
    for server in servers.values():
        server.stop()


def test_parser_on_the_recorded_capture():
    lines = (FIXTURES / "nvsmi_query_nounits.csv").read_text().splitlines()
    header = lines[0].split("--query-gpu=")[1].split()[0].split(",")
    values = dict(zip(header, (c.strip() for c in lines[1].split(",")), strict=False))
    from dcctl.survey.top import FIELDS

    gpu = parse_gpu_line(", ".join(values[f] for f in FIELDS))
    assert gpu is not None and gpu.index == 0 and gpu.name == "NVIDIA H100 80GB HBM3"
    assert (gpu.power, gpu.limit, gpu.temp, gpu.mem_total) == (69.84, 700.0, 34.0, 81559.0)
    assert gpu.held_back == ()  # 0x1 is "idle", not a slowdown
    assert parse_gpu_line("Failed to initialize NVML: Driver/library version mismatch") is None


def test_once_reads_every_host_and_says_why_not(fleet):
    result = CliRunner().invoke(app, ["-i", str(fleet["inventory"]), "-o", "json", "top",
                                      "--once"])  # fmt: skip
    assert result.exit_code == 3, result.output  # gpu003 is down, cpu001 has no GPU
    doc = json.loads(result.stdout)
    check(doc, "top", line=True, where="top")
    hosts = {h["host"]: h for h in doc["hosts"]}
    assert hosts["gpu001"]["status"] == "ok" and len(hosts["gpu001"]["gpus"]) == 8
    assert hosts["gpu001"]["gpus"][2]["process"] == "python3 (4242)"
    assert hosts["gpu001"]["process"] == "python3 (4242)"
    hot = hosts["gpu002"]["gpus"][5]
    assert hot["temp_c"] == 87 and hot["held_back"] == ["hw_thermal_slowdown"]
    assert hosts["gpu002"]["temp_c"] == 87 and hosts["gpu002"]["held_back"] == [
        "hw_thermal_slowdown"
    ]
    assert hosts["gpu002"]["power_w"] == round(7 * 69.84 + 690.5, 1)
    assert hosts["cpu001"]["status"] == "no_gpu"
    assert hosts["gpu003"]["status"] == "unreachable"
    power = {(p["kind"], p["name"]): p for p in doc["power"]}
    rack = power[("rack", "rack-1")]
    expected = 2 * 1000 + 8 * 69.84 + 7 * 69.84 + 690.5  # GPUs measured + the profiles' baseline
    assert rack["draw_w"] == pytest.approx(expected, abs=0.2)
    assert rack["budget_w"] == 40000 and (rack["hosts_known"], rack["hosts"]) == (2, 4)
    assert power[("feed", "feed-a")]["draw_w"] == pytest.approx(expected, abs=0.2)


def test_once_table_fits_80_columns_and_never_cuts_a_host(fleet):
    result = CliRunner().invoke(app, ["-i", str(fleet["inventory"]), "top", "--once", "--gpus"],
                                env={"COLUMNS": "80"})  # fmt: skip
    lines = result.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80, "\n".join(lines)
    assert sum(1 for x in lines if x.startswith("gpu001/")) == 8
    assert any(x.startswith("gpu002/5") and "HWT" in x for x in lines)
    assert any(x.startswith("gpu003") and "unreachable" in x for x in lines)
    assert any("rack rack-1" in x for x in lines)


def test_live_fleet_streams_and_survives_a_host_going_away(fleet):
    inventory = load_inventory(fleet["inventory"])
    live = LiveFleet(inventory, ["gpu001", "gpu002", "gpu003"], 0.3, processes_every=3).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            view = {h.host: h for h in live.view()}
            if view["gpu001"].status == "ok" and view["gpu002"].status == "ok":
                break
            time.sleep(0.1)
        assert view["gpu001"].status == "ok" and len(view["gpu001"].gpus) == 8
        assert view["gpu003"].status == "unreachable"  # shown with its reason, not dropped
        first = view["gpu001"].updated
        time.sleep(1.0)
        assert live.view()[0].updated > first  # new samples keep coming on the same stream
        server = fleet["servers"]["gpu002"]
        _kill_children(server.process.pid)  # its connections drop (sshd keeps them otherwise)
        server.stop()  # and the host is gone
        deadline = time.monotonic() + 10
        while live.view()[1].status == "ok" and time.monotonic() < deadline:
            time.sleep(0.1)
        gone = live.view()[1]
        assert gone.status != "ok" and gone.error, gone
        assert power_totals(inventory, live.view())  # totals still computed
        server.start()  # back: reconnected with backoff
        deadline = time.monotonic() + 20
        while live.view()[1].status != "ok" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert live.view()[1].status == "ok"
    finally:
        live.close()


def _kill_children(pid: int) -> None:
    import signal

    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            os.kill(int(stat.parent.name), signal.SIGKILL)


@pytest.mark.skipif(shutil.which("tmux") is None and not os.environ.get("CI"),
                    reason="tmux not installed (.ci/run installs it)")  # fmt: skip
@pytest.mark.parametrize("width", [80, 200])
def test_live_screen_in_a_real_terminal(fleet, width, tmp_path):
    session = f"dcctl-top-{width}-{os.getpid()}"
    env = f"HOME={fleet['home']} PYTHONPATH={os.getcwd()}"
    command = (f"env {env} {sys.executable} -m dcctl -i {fleet['inventory']} top "
               f"-l 'gpu*' --interval 0.5")  # fmt: skip
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", "40",
                    command], check=True)  # fmt: skip

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                              text=True, check=False).stdout  # fmt: skip

    def wait_for(text: str, seconds: float = 20) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen:\n{screen()}")

    try:
        shown = wait_for("gpu002 (8)")
        assert "gpu001 (8)" in shown and "q quit" in shown and "rack rack-1" in shown
        keep = os.environ.get("DCCTL_SCREEN_DIR")  # to put what it shows into docs/top.md
        (Path(keep) if keep else tmp_path).joinpath(f"screen-{width}.txt").write_text(shown)
        assert max(len(x.rstrip()) for x in shown.splitlines()) <= width
        subprocess.run(["tmux", "send-keys", "-t", session, "g"], check=True)
        shown = wait_for("gpu001/7")
        subprocess.run(["tmux", "send-keys", "-t", session, "s"], check=True)
        wait_for("sort util")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True)
            if alive.returncode != 0:
                break
            time.sleep(0.2)
        assert alive.returncode != 0, "q did not quit"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
