"""Exit codes a CI drift check and a cron job can believe (docs/exit-codes.md).

A dry-run or apply in which any host is unreachable, failed, timed out or could not read a
resource exits 3, and 3 wins over 2; a resource whose read failed is an error on its host, never
"already as desired"; ``become: sudo`` that cannot work says why; a selection of no host is 64.
"""

from __future__ import annotations

import json
import socket
import textwrap

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.model.command import Command, CommandResult
from dcctl.playbook.planner import plan_host
from dcctl.playbook.resources.files import FileResource
from dcctl.transport.fake import FakeTransport


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def site(tmp_path, monkeypatch):
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        textwrap.dedent(
            f"""\
            hosts:
              - {{name: here, transport: local}}
              - {{name: dead1, address: 127.0.0.1,
                  ssh: {{port: {closed_port()}, connect_timeout: 2}}}}
              - {{name: dead2, address: 127.0.0.1,
                  ssh: {{port: {closed_port()}, connect_timeout: 2}}}}
            groups:
              dead: {{hosts: "dead[1-2]"}}
            """
        )
    )
    return tmp_path


def playbook(site, hosts, *resources):
    path = site / "p.yaml"
    path.write_text(json.dumps({"name": "t", "hosts": hosts, "resources": list(resources)}))
    return str(path)


def run(site, *args):
    result = CliRunner().invoke(app, ["-i", str(site / "inventory.yaml"), *args])
    assert "Traceback" not in result.output
    return result


def test_one_unreachable_and_one_pending_is_3_not_2(site):
    book = playbook(site, "here,dead1", {"type": "file", "path": f"{site}/f", "content": "x"})
    dry = run(site, "apply", book, "--dry-run")
    assert dry.exit_code == 3, dry.output
    assert "dead1" in dry.output and "1 change(s) pending" in dry.output
    applied = run(site, "apply", book, "--yes", "--no-health-gate", "--state-dir", str(site / "s"))
    assert applied.exit_code == 3, applied.output
    assert (site / "f").read_text() == "x"  # the reachable host was still applied


def test_every_host_unreachable_is_3_in_dry_run_and_apply(site):
    book = playbook(site, "@dead", {"type": "file", "path": f"{site}/g", "content": "x"})
    assert run(site, "apply", book, "--dry-run").exit_code == 3
    applied = run(site, "apply", book, "--yes", "--no-health-gate", "--state-dir", str(site / "s"))
    assert applied.exit_code == 3, applied.output
    assert not (site / "g").exists()


def test_a_failed_read_is_an_error_never_as_desired(site):
    book = playbook(site, "here", {"type": "mtu", "interface": "nosuchif0", "mtu": 9000})
    result = run(site, "apply", book, "--dry-run")
    assert result.exit_code == 3, result.output
    assert "no interface nosuchif0" in result.output
    assert "already as desired" not in result.output


def test_gpu_resource_without_nvidia_smi_is_an_error(site, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no nvidia-smi on this machine either way
    book = playbook(site, "here", {"type": "gpu_power_limit", "watts": 500})
    result = run(site, "apply", book, "--dry-run")
    assert result.exit_code == 3, result.output
    assert "cannot read GPU state" in result.output


def test_a_selection_of_no_host_is_64(site):
    book = playbook(site, "here", {"type": "file", "path": f"{site}/h", "content": "x"})
    result = run(site, "apply", book, "--dry-run", "-l", "dead1")
    assert result.exit_code == 64
    assert "selects no host" in result.output


def test_nothing_to_change_and_all_read_is_0(site):
    (site / "same").write_text("x")
    book = playbook(site, "here", {"type": "file", "path": f"{site}/same", "content": "x"})
    assert run(site, "apply", book, "--dry-run").exit_code == 0


def sudo_answer(text, rc):
    def answer(command: Command) -> CommandResult:
        import re

        script = command.argv[2]
        boundary = re.search(r"DCCTL-[0-9a-f]{16}", script).group(0)
        keys = re.findall(rf"{boundary} BEGIN (\S+)", script) or ["become.sudo"]
        body = "".join(
            f"{boundary} BEGIN {key}\n{text}\n{boundary} END {key} rc={rc}\n" for key in keys
        )
        return CommandResult(0, body)

    return answer


@pytest.mark.parametrize(
    ("text", "rc", "message"),
    [
        ("sh: 1: sudo: not found", 127, "sudo is not installed on the host"),
        ("sudo: a password is required", 1, "sudo asks for a password"),
        ("ops is not in the sudoers file.", 1, "may not run commands with sudo"),
    ],
)
def test_become_sudo_that_cannot_work_says_why(text, rc, message):
    transport = FakeTransport("n1", {r"sh -c .*": sudo_answer(text, rc)})
    plan = plan_host(transport, [FileResource("/etc/x", "y")], "sudo")
    assert plan.error is not None and message in plan.error
    assert plan.outcomes == []  # nothing planned as "create" because the read failed


def test_a_read_that_hangs_is_an_error():
    timed_out = CommandResult(None, "", "", 30.0, timed_out=True)
    transport = FakeTransport("n1", {r"sh -c .*": timed_out})
    plan = plan_host(transport, [FileResource("/etc/x", "y")])
    assert plan.error == "reading the current state timed out"
