"""Playbook planning: (desired state, facts) → changes or no-op reasons, for every resource;
playbook schema errors; secrets masked; hostile values kept literal; one-round-trip planning
against the local host."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dcctl.errors import PlaybookError, PlaybookFileError
from dcctl.inventory.loader import load_inventory
from dcctl.model.command import Command
from dcctl.playbook.planner import become, plan_host, plan_playbook
from dcctl.playbook.resources.files import FileResource, LineResource
from dcctl.playbook.resources.gpu import GpuComputeMode, GpuPersistence, GpuPowerLimit
from dcctl.playbook.resources.system import CommandResource, SysctlResource
from dcctl.playbook.schema import read_playbook
from dcctl.probes.base import Output
from dcctl.render.console import make_console
from dcctl.render.plan import render_plan
from dcctl.transport.local import LocalTransport

ROOT = Path(__file__).resolve().parent.parent


def out(text: str, rc: int = 0) -> Output:
    return Output("cmd", text, rc)


MISSING = out("", 3)  # read_file: exit status 3 when the file does not exist


# --------------------------------------------------------------------------- fixtures per resource


def test_file_resource():
    r = FileResource("/etc/a.conf", "x = 1\n", mode="0644", owner="root:root")
    same = r.plan({"content": out("x = 1\n"), "meta": out("644 root:root\n")})
    assert same.change is None and same.ok_reason == "content, mode and owner as desired"
    created = r.plan({"content": MISSING, "meta": out("", 1)}).change
    assert created.before == "(absent)" and created.reason.startswith("created; mode - → 644")
    assert [c.argv[0] for c in created.commands] == ["sh", "chmod", "chown"]
    drift = r.plan({"content": out("x = 2\n"), "meta": out("600 ops:ops\n")}).change
    assert "content differs; mode 600 → 644; owner ops:ops → root:root" in drift.reason
    assert "-x = 2\n+x = 1" in drift.diff and drift.diff.startswith("--- /etc/a.conf (before)")


def test_line_resource():
    present = LineResource("/etc/hosts", "10.0.0.1 db")
    assert present.plan({"content": out("127.0.0.1 localhost\n10.0.0.1 db\n")}).change is None
    change = present.plan({"content": out("127.0.0.1 localhost")}).change
    assert change.after == "127.0.0.1 localhost\n10.0.0.1 db\n"
    absent = LineResource("/etc/hosts", "10.0.0.1 db", present=False)
    assert absent.plan({"content": MISSING}).ok_reason == "line absent"
    removed = absent.plan({"content": out("a\n10.0.0.1 db\nb\n10.0.0.1 db\n")}).change
    assert removed.after == "a\nb\n" and removed.reason.startswith("line present 2×")


def test_sysctl_resource():
    r = SysctlResource("net.core.rmem_max", "268435456", "/etc/sysctl.d/90-dcctl.conf")
    same = r.plan({"runtime": out("268435456\n"), "file": out("net.core.rmem_max = 268435456\n")})
    assert same.change is None and same.ok_reason == "already 268435456"
    change = r.plan(
        {
            "runtime": out("212992\n"),
            "file": out("# x\nnet.core.rmem_max=1\nnet.core.rmem_max = 2\n"),
        }
    ).change
    assert change.before == "runtime 212992; /etc/sysctl.d/90-dcctl.conf: 1"
    assert change.after == "runtime 268435456; /etc/sysctl.d/90-dcctl.conf: 268435456"
    assert change.commands[0].argv == ("sysctl", "-w", "--", "net.core.rmem_max=268435456")
    assert change.commands[1].argv[4] == "# x\nnet.core.rmem_max = 268435456\n"
    multi = SysctlResource("net.ipv4.tcp_rmem", "4096 87380 6291456", None)
    assert multi.plan({"runtime": out("4096\t87380\t6291456\n")}).change is None


def test_command_resource():
    r = CommandResource(("touch", "/x"), creates="/x")
    assert r.plan({"creates": out("")}).ok_reason == "/x exists"
    assert r.plan({"creates": out("", 1)}).change.commands[0].argv == ("touch", "/x")
    guarded = CommandResource(("systemctl", "restart", "x"), unless=("pgrep", "x"))
    assert guarded.plan({"unless": out("123\n")}).change is None


GPU_STATE = (
    "0, 700.00, 700.00, 200.00, 700.00, Enabled, Default\n"
    "1, 500.00, 700.00, 200.00, 700.00, Disabled, Exclusive_Process\n"
)


def test_gpu_resources():
    state = {"gpus": out(GPU_STATE)}
    limit = GpuPowerLimit(watts=650).plan(state).change
    assert limit.before == "GPU0 700 W, GPU1 500 W" and limit.after == "GPU0 650 W, GPU1 650 W"
    assert [c.argv for c in limit.commands] == [("nvidia-smi", "-i", "0,1", "-pl", "650")]
    assert GpuPowerLimit(percent=100, gpus=(0,)).plan(state).change is None
    with pytest.raises(PlaybookError, match="outside its range 200–700 W"):
        GpuPowerLimit(watts=900).plan(state)
    with pytest.raises(PlaybookError, match="GPU 3 not present"):
        GpuPowerLimit(watts=600, gpus=(3,)).plan(state)
    persistence = GpuPersistence(True).plan(state).change
    assert persistence.commands[0].argv == ("nvidia-smi", "-i", "1", "-pm", "1")
    mode = GpuComputeMode("DEFAULT").plan(state).change
    assert mode.commands[0].argv == ("nvidia-smi", "-i", "1", "-c", "DEFAULT")
    with pytest.raises(PlaybookError, match="cannot read GPU state"):
        GpuPersistence(True).plan({"gpus": out("sh: nvidia-smi: not found\n", 127)})


def test_become_prefixes_and_keeps_secret_positions():
    command = become(Command.of(["mysql", "-p", "pw"], secret=[2]), "sudo")
    assert command.argv[:3] == ("sudo", "-n", "--") and command.display().endswith("'***'")


# --------------------------------------------------------------------------- schema


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_schema_errors_are_located(tmp_path):
    path = write(
        tmp_path,
        "pb.yaml",
        """\
        hosts: all
        resources:
          - {type: sysctl, name: x}
          - {type: fiel, path: /x}
          - {type: gpu_power_limit, watts: 600, percent: 90}
          - {type: line, path: /x, line: y, mode: "0644"}
        """,
    )
    with pytest.raises(PlaybookFileError) as info:
        read_playbook(path)
    assert [str(d) for d in info.value.diagnostics] == [
        f"{path}:3:5: resources[0]: sysctl needs 'value' (one value (a scalar))",
        f"{path}:4:12: resources[1].type: unknown resource type 'fiel' (did you mean 'file'?)",
        f"{path}:5:5: resources[2]: gpu_power_limit needs exactly one of 'watts', 'percent'",
        f"{path}:6:37: resources[3].mode: 'mode' is not a field of line (path, line, state)",
    ]


def test_secrets_never_show_and_hostile_values_stay_literal(tmp_path):
    hostile = "; rm -rf / $(touch /tmp/dcctl-owned) `id`\nsecond line '\"\\"
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    pb = write(
        tmp_path,
        "pb.yaml",
        f"""\
        hosts: localhost
        vars:
          token: {{secret: hunter2-TOKEN}}
          hostile: {json.dumps(hostile)}
        resources:
          - {{type: file, path: {sandbox}/app.conf, content: "token={{{{ token }}}}\\n"}}
          - {{type: file, path: {sandbox}/hostile.txt, content: "{{{{ hostile }}}}"}}
          - {{type: command, argv: [echo, "{{{{ token }}}}"], creates: {sandbox}/done}}
        """,
    )
    inventory = load_inventory(ROOT / "inventory" / "example.yaml")
    playbook = read_playbook(pb)
    plan = plan_playbook(playbook, inventory, lambda h: LocalTransport(h))
    text = json.dumps(plan.to_dict())
    assert "hunter2-TOKEN" not in text and "***" in text
    console = make_console(file=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
    render_plan(console, plan)
    console.file.close()
    shown = (tmp_path / "out.txt").read_text()
    assert "hunter2-TOKEN" not in shown and "token=***" in shown
    assert plan.pending == 3
    # Run the planned writes as the executor will: argv, quoted once. The file gets the text.
    local = LocalTransport()
    for change in plan.hosts[0].changes[:2]:
        for command in change.commands:
            assert local.run(command, timeout=10).rc == 0
    assert (sandbox / "hostile.txt").read_text() == hostile
    assert (sandbox / "app.conf").read_text() == "token=hunter2-TOKEN\n"
    assert not Path("/tmp/dcctl-owned").exists()
    # A second plan sees the two files converged.
    again = plan_playbook(playbook, inventory, lambda h: LocalTransport(h))
    assert again.pending == 1 and again.hosts[0].changes[0].resource.startswith("command echo")


def test_plan_host_reads_in_one_round_trip(tmp_path):
    class Counting(LocalTransport):
        calls = 0

        def run(self, command, *, timeout=None):
            Counting.calls += 1
            return super().run(command, timeout=timeout)

    target = tmp_path / "f"
    resources = [
        FileResource(str(target), "a\n"),
        LineResource(str(target), "b"),
        SysctlResource("kernel.hostname", "x", str(tmp_path / "s.conf"), runtime=False),
    ]
    plan = plan_host(Counting(), resources)
    assert Counting.calls == 1
    assert [o.change is not None for o in plan.outcomes] == [True, True, True]


def test_identical_changes_fold_across_hosts(tmp_path):
    from dcctl.playbook.model import HostPlan, Plan

    r = SysctlResource("net.core.rmem_max", "268435456", None)
    plan = Plan("t")
    for i, value in enumerate(["212992", "212992", "212992", "4194304"], 1):
        plan.hosts.append(HostPlan(f"gpu{i:03d}", [r.plan({"runtime": out(value + "\n")})]))
    path = tmp_path / "out.txt"
    with path.open("w") as fh:
        render_plan(make_console(file=fh), plan)
    lines = path.read_text().splitlines()
    assert "gpu[001-003]: sysctl net.core.rmem_max  runtime 212992 → runtime 268435456" in lines
    assert "gpu004: sysctl net.core.rmem_max  runtime 4194304 → runtime 268435456" in lines
    assert lines[-1] == "4 change(s) pending on 4 host(s)"


def test_service_package_module_mtu_resources():
    from dcctl.playbook.resources.services import (
        KernelModuleResource,
        MtuResource,
        PackageResource,
        ServiceResource,
    )

    svc = ServiceResource("nvidia-persistenced")
    assert svc.plan({"enabled": out("enabled\n"), "active": out("active\n")}).change is None
    change = svc.plan({"enabled": out("disabled\n", 1), "active": out("inactive\n", 3)}).change
    assert [c.argv[1] for c in change.commands] == ["enable", "start"]

    pkg = PackageResource("rdma-core")
    installed = out("install ok installed")
    assert pkg.plan({"dpkg": installed, "rpm": out("sh: rpm: not found", 127)}).change is None
    apt = pkg.plan({"dpkg": out("", 1), "rpm": out("sh: rpm: not found", 127)}).change
    assert apt.commands[0].argv[-3:] == ("-y", "--", "rdma-core")
    dnf = pkg.plan(
        {"dpkg": out("not found", 127), "rpm": out("package rdma-core is not installed", 1)}
    )
    assert dnf.change.commands[0].argv[:2] == ("dnf", "install")
    with pytest.raises(PlaybookError, match="no dpkg or rpm"):
        pkg.plan({"dpkg": out("", 127), "rpm": out("", 127)})

    mod = KernelModuleResource("nvidia-peermem")
    modules = out("nvidia_peermem 16384 0 - Live 0x0\nnvidia 123 1 - Live 0x0\n")
    assert mod.plan({"modules": modules}).change is None
    assert KernelModuleResource("ib_umad").plan({"modules": modules}).change.commands[0].argv == (
        "modprobe", "--", "ib_umad",
    )  # fmt: skip

    mtu = MtuResource("ens1f0", 9000)
    assert mtu.plan({"mtu": out("9000\n")}).change is None
    assert mtu.plan({"mtu": out("1500\n")}).change.commands[0].argv[-2:] == ("mtu", "9000")
    with pytest.raises(PlaybookError, match="no interface ens1f0"):
        mtu.plan({"mtu": out("cat: no such file", 1)})


def test_example_playbooks_parse():
    for path in sorted((ROOT / "playbooks").glob("*.yaml")):
        playbook = read_playbook(path)
        assert playbook.resources, path


def test_unguarded_command_applies_without_failing_verification(tmp_path):
    from dcctl.playbook.executor import RolloutOptions, apply_plan

    target = tmp_path / "runs"
    pb = write(
        tmp_path,
        "pb.yaml",
        f"""\
        hosts: localhost
        resources:
          - {{type: command, argv: [sh, -c, 'echo run >> "$1"', sh, "{target}"]}}
          - {{type: file, path: "{tmp_path}/f", content: "x\\n"}}
        """,
    )
    inventory = load_inventory(ROOT / "inventory" / "example.yaml")
    playbook = read_playbook(pb)
    plan = plan_playbook(playbook, inventory, lambda h: LocalTransport(h))
    result = apply_plan(plan, playbook, inventory, lambda h: LocalTransport(h),
                        RolloutOptions(tmp_path / ".dcctl"))  # fmt: skip
    assert [h.status for h in result.hosts] == ["done"]
    assert target.read_text() == "run\n" and (tmp_path / "f").read_text() == "x\n"
