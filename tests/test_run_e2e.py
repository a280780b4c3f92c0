"""``dcctl run`` against real sshd hosts: gathered output, exit statuses, hosts down, timeouts,
hostile arguments, JSON, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from tests.sshd_harness import (
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
    root = tmp_path_factory.mktemp("run-fleet")
    home = root / "home"
    ours = client_keys(home)
    servers = [SshServer(f"h{i}", f"127.0.0.{80 + i}", root / f"h{i}", ours, nvidia=None)
               for i in range(1, 5)]  # fmt: skip
    for server in servers:
        server.start()
    for server in servers[1::2]:  # h2, h4 are "odd"
        (server.root / "home" / "odd").write_text("")
    write_known_hosts(home, servers)
    down = free_port("127.0.0.89")
    inventory = root / "inventory.yaml"
    inventory.write_text(textwrap.dedent(f"""\
        defaults:
          ssh: {{user: root, identity_file: {home}/.ssh/id_ed25519, connect_timeout: 2}}
        hosts:
        """) + "".join(
        f"  - {{name: {s.name}, address: {s.address}, ssh: {{port: {s.port}}}}}\n"
        for s in servers
    ) + f"  - {{name: down1, address: 127.0.0.89, ssh: {{port: {down}}}}}\n")  # fmt: skip
    with client_home(home):
        yield {"inventory": inventory, "home": home, "root": root}
    for server in servers:
        server.stop()


def run(fleet, *args):
    result = CliRunner().invoke(app, ["-i", str(fleet["inventory"]), *args])
    assert "Traceback" not in result.output + result.stderr
    return result


def test_identical_output_is_shown_once_under_its_hosts(fleet):
    result = run(fleet, "run", "-l", "h[1-4]", "--", "uname", "-s")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("Linux") == 1
    assert "h[1-4] (4)" in result.stdout


def test_distinct_outputs_and_exit_statuses_are_folded(fleet):
    script = 'if test -e "$HOME/odd"; then echo odd; exit 1; else echo even; fi'
    result = run(fleet, "run", "-l", "h*", "--shell", script)
    assert result.exit_code == 1, result.stderr  # the command failed somewhere
    out = result.stdout
    assert "h[1,3] (2)" in out and "h[2,4] (2)" in out
    assert out.index("h[1,3]") < out.index("even") and out.index("h[2,4]") < out.index("odd")
    assert "rc=1: h[2,4]" in result.stderr


def test_a_host_down_is_folded_by_reason_and_exit_3(fleet):
    result = run(fleet, "run", "-l", "all", "--", "true")
    assert result.exit_code == 3, result.stderr
    assert "down1: unreachable" in result.stderr
    assert "h[1-4] (4)" in result.stdout


def test_a_command_past_its_timeout_is_timed_out_quickly(fleet):
    started = time.monotonic()
    result = run(fleet, "run", "-l", "h[1-2]", "--timeout", "1", "--", "sleep", "20")
    assert result.exit_code == 3
    assert time.monotonic() - started < 8
    assert "h[1-2]: timed_out" in result.stderr


def test_hostile_arguments_stay_one_word_each(fleet, tmp_path):
    marker = tmp_path / "pwned"
    words = [f"$(touch {marker})", "-x", "a b", "; rm -rf /", "`id`", "x\ny"]
    result = run(fleet, "-o", "json", "run", "-l", "h1", "--", "printf", "%s|", *words)
    assert result.exit_code == 0, result.stderr
    host = json.loads(result.stdout)["hosts"][0]
    assert host["stdout"] == "|".join(words) + "|"
    assert not marker.exists()


def test_lines_mode_prefixes_every_line(fleet):
    result = run(fleet, "run", "-l", "h[1-2]", "--lines", "--", "printf", "a\\nb\\n")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["h1: a", "h1: b", "h2: a", "h2: b"]


def test_json_and_jsonl_match_the_docs(fleet):
    doc = run(fleet, "-o", "json", "run", "-l", "h1,down1", "--", "echo", "hi")
    assert doc.exit_code == 3
    data = json.loads(doc.stdout)
    check(data, "run", line=True, where="run")
    by_host = {h["host"]: h for h in data["hosts"]}
    assert by_host["h1"]["stdout"] == "hi\n" and by_host["h1"]["rc"] == 0
    assert by_host["down1"]["status"] == "unreachable" and by_host["down1"]["rc"] is None
    lines = run(fleet, "-o", "jsonl", "run", "-l", "h[1-2]", "--", "true").stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        check(json.loads(line), "run.host", line=True, where="run.host")


def test_bad_input(fleet):
    assert run(fleet, "run", "--", "true").exit_code == 64  # no -l
    assert run(fleet, "run", "-l", "h1").exit_code == 64  # no command
    assert run(fleet, "run", "-l", "h1", "--shell", "x", "--", "y").exit_code == 64
    assert run(fleet, "run", "-l", "nope", "--", "true").exit_code == 64
    assert run(fleet, "run", "-l", "h1", "--become", "doas", "--", "true").exit_code == 64


def test_ctrl_c_stops_within_a_second(fleet):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcctl", "-i", str(fleet["inventory"]), "run", "-l", "h*", "--",
         "sleep", "30"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(2.0)  # connected, sleeping on every host
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 1.5
    assert "Traceback" not in err and "interrupted" in err
