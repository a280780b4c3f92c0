"""Fault response in a real Slurm (tests/slurm_harness.py) with real sshd hosts (sshd_harness).

The health loop drains a replayed H100 host with an Xid 79 and resumes it after N healthy runs;
an admin's drain is left alone; the controller reached over SSH (``scheduler.run_on``) with
node-name maps; ``dcctl slurm status``; a controller that does not answer changes nothing.
"""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.scheduler.slurm_nodes import parse_scontrol_nodes
from tests.slurm_harness import slurm_available, temporary_cluster
from tests.sshd_harness import (
    SshServer,
    client_home,
    client_keys,
    sshd_available,
    write_known_hosts,
)
from tests.test_json_schemas import check

reason = slurm_available() or sshd_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)
XID_79 = (
    "[ 1234.567890] NVRM: Xid (PCI:0000:1a:00): 79, pid='<unknown>', name=<unknown>, "
    "GPU has fallen off the bus."
)
QUIET = "[    0.5] NVRM: loading NVIDIA UNIX Open Kernel Module for x86_64  580.159.04"


@pytest.fixture(scope="module")
def cluster():
    with temporary_cluster(nodes=3) as c:
        yield c


@pytest.fixture
def slurm(cluster):
    yield cluster
    cluster.reset()


@pytest.fixture(scope="module")
def fleet(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm-fleet")
    home = root / "home"
    ours = client_keys(home)
    servers = {
        f"gpu00{i}": SshServer(f"gpu00{i}", f"127.0.0.{70 + i}", root / f"gpu00{i}", ours,
                               dmesg=QUIET)
        for i in (1, 2, 3)
    }  # fmt: skip
    servers["ctl"] = SshServer("ctl", "127.0.0.79", root / "ctl", ours, nvidia=None,
                               env={"SLURM_CONF": cluster.env["SLURM_CONF"]})  # fmt: skip
    for server in servers.values():
        server.start()
    write_known_hosts(home, servers.values())
    common = textwrap.dedent(f"""\
        defaults:
          ssh: {{user: root, identity_file: {home}/.ssh/id_ed25519, connect_timeout: 3}}
          scheduler: {{resume_after: 2}}
        profiles:
          h100:
            gpu: {{model: NVIDIA H100 80GB HBM3, count: 8, driver: "580.159.04",
                   power_limit_w: {{min: 200, default: 700, max: 700}}}}
        hosts:
        """)
    inventory = root / "inventory.yaml"
    inventory.write_text(common + "".join(
        f"  - {{name: {n}, address: {s.address}, profile: h100, ssh: {{port: {s.port}}}}}\n"
        for n, s in servers.items() if n != "ctl"
    ))  # fmt: skip
    # The same nodes under other inventory names, their Slurm reached through 'ctl' over SSH.
    remote = root / "remote.yaml"
    remote.write_text(
        textwrap.dedent(f"""\
        defaults:
          ssh: {{user: root, identity_file: {home}/.ssh/id_ed25519, connect_timeout: 3}}
          scheduler:
            run_on: ctl
            node_name: {{node-a.example.net: gpu001, node-b.example.net: gpu002}}
        hosts:
          - {{name: node-a.example.net, address: 127.0.0.71}}
          - {{name: node-b.example.net, address: 127.0.0.72}}
          - name: gpu003.example.net
            address: 127.0.0.73
            scheduler: {{node_name: "{{short}}"}}
          - {{name: ctl, address: 127.0.0.79, ssh: {{port: {servers["ctl"].port}}}}}
        """)
    )
    with client_home(home):
        yield {"inventory": inventory, "remote": remote, "servers": servers, "root": root}
    for server in servers.values():
        server.stop()


def dcctl(inventory, *args, env):
    result = CliRunner().invoke(app, ["-i", str(inventory), *args], env=env)
    assert "Traceback" not in result.output, result.output
    return result


def nodes(cluster):
    run = cluster.run(["scontrol", "-o", "-d", "show", "node"])
    return {n.name: n for n in parse_scontrol_nodes(run.stdout)}


def set_dmesg(fleet, host, text):
    fake = fleet["servers"][host].root / "bin" / "dmesg"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n" + text + "\nEOF\n")
    fake.chmod(0o755)


def test_health_drain_closes_the_loop(slurm, fleet, tmp_path):
    env = {"SLURM_CONF": slurm.env["SLURM_CONF"], "DCCTL_STATE_DIR": str(tmp_path / "state")}
    set_dmesg(fleet, "gpu002", XID_79)
    assert slurm.run(["scontrol", "update", "nodename=gpu003", "state=drain",
                      "reason=admin: bad fan"]).returncode == 0  # fmt: skip
    job = slurm.submit("gpu002", 300, gpus=3)

    def loop(*extra):
        return dcctl(fleet["inventory"], "health", "--drain", "--timeout", "4", "--no-outliers",
                     *extra, env=env)  # fmt: skip

    dry = loop("--dry-run")
    assert dry.exit_code == 1, dry.output  # a critical finding
    assert "gpu002: drain" in dry.output and not nodes(slurm)["gpu002"].drain
    first = loop()
    assert first.exit_code == 1, first.output
    now = nodes(slurm)
    assert now["gpu002"].reason == "dcctl: health xid_79 (reboot_node)"
    assert now["gpu002"].draining  # the job keeps running: DRAINING, not killed
    assert not now["gpu001"].drain
    assert now["gpu003"].reason == "admin: bad fan"  # an admin's drain stays
    assert "drained, not by the health loop: 'admin: bad fan' (left alone)" in first.output
    status = dcctl(fleet["inventory"], "-o", "json", "slurm", "status", env=env)
    assert status.exit_code == 0, status.output
    doc = json.loads(status.stdout)
    check(doc, "slurm.status", line=True, where="slurm.status")
    by_host = {h["host"]: h for h in doc["hosts"]}
    assert by_host["gpu002"]["jobs"] == [job] and by_host["gpu002"]["gpus_used"] == 3
    assert by_host["gpu002"]["gpu_indexes_used"] == [0, 1, 2]
    assert by_host["gpu002"]["verdict"] == "critical" and by_host["gpu002"]["owned_by_dcctl"]
    assert by_host["gpu003"]["reason_by"] and not by_host["gpu003"]["owned_by_dcctl"]
    table = dcctl(fleet["inventory"], "slurm", "status", env=env).output
    assert "gpu002 (1)" in table and "MIXED+DRAIN" in table and "critical" in table

    set_dmesg(fleet, "gpu002", QUIET)  # repaired
    second = loop()
    assert second.exit_code == 0, second.output
    assert "healthy 1 of 2 run(s) before resume" in second.output
    assert nodes(slurm)["gpu002"].drain  # one healthy run is not enough
    third = loop()
    assert third.exit_code == 0, third.output
    after = nodes(slurm)
    assert not after["gpu002"].drain  # two in a row: back
    assert after["gpu003"].reason == "admin: bad fan"  # never the admin's
    lines = (tmp_path / "state" / "health" / "actions.jsonl").read_text().splitlines()
    journal = [json.loads(line) for line in lines]
    assert [(j["host"], j["action"], j["outcome"]) for j in journal] == [
        ("gpu002", "drain", "done"), ("gpu002", "resume", "done")]  # fmt: skip
    slurm.run(["scancel", job])


def test_a_warning_breaks_the_healthy_run(slurm, fleet, tmp_path):
    """unknown (host hung) does not count as healthy: the run of ok results starts again."""
    env = {"SLURM_CONF": slurm.env["SLURM_CONF"], "DCCTL_STATE_DIR": str(tmp_path / "state")}
    set_dmesg(fleet, "gpu001", XID_79)
    first = dcctl(fleet["inventory"], "health", "--drain", "-l", "gpu001", "--no-outliers",
                  env=env)  # fmt: skip
    assert first.exit_code == 1 and nodes(slurm)["gpu001"].drain
    set_dmesg(fleet, "gpu001", QUIET)
    ok = dcctl(fleet["inventory"], "health", "--drain", "-l", "gpu001", "--no-outliers", env=env)
    assert "healthy 1 of 2" in ok.output
    fleet["servers"]["gpu001"].stop()  # the host stops answering: unknown
    try:
        gone = dcctl(fleet["inventory"], "health", "--drain", "-l", "gpu001", "--no-outliers",
                     env=env)  # fmt: skip
        assert gone.exit_code == 3 and "unknown: stays drained" in gone.output
    finally:
        fleet["servers"]["gpu001"].start()
    again = dcctl(fleet["inventory"], "health", "--drain", "-l", "gpu001", "--no-outliers",
                  env=env)  # fmt: skip
    assert "healthy 1 of 2" in again.output and nodes(slurm)["gpu001"].drain
    state = json.loads((tmp_path / "state" / "health" / "state.json").read_text())
    assert state["schema"] == "dcctl.health.state/1"
    assert state["hosts"]["gpu001"]["healthy_runs"] == 1


def test_controller_over_ssh_with_node_name_maps(slurm, fleet):
    # A SLURM_CONF here that reaches nothing: the commands must run on 'ctl', over SSH.
    env = {"SLURM_CONF": "/nonexistent/slurm.conf"}
    inv = fleet["remote"]
    dry = dcctl(inv, "-o", "json", "drain", "-l", "node-*,gpu003*", "--reason", "maintenance",
                env=env)  # fmt: skip
    assert dry.exit_code == 2, dry.output
    doc = json.loads(dry.stdout)
    check(doc, "slurm.actions", line=True, where="slurm.actions")
    assert {(a["host"], a["node"], a["action"]) for a in doc["actions"]} == {
        ("node-a.example.net", "gpu001", "drain"), ("node-b.example.net", "gpu002", "drain"),
        ("gpu003.example.net", "gpu003", "drain")}  # fmt: skip
    assert doc["pending"] == 3 and doc["act"] is False
    done = dcctl(inv, "drain", "-l", "node-a.example.net", "--reason", "maintenance", "--yes",
                 env=env)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert nodes(slurm)["gpu001"].reason == "dcctl: maintenance"
    lines = dcctl(inv, "-o", "jsonl", "slurm", "status", "-l", "node-*", env=env)
    assert lines.exit_code == 0, lines.output
    records = [json.loads(x) for x in lines.stdout.splitlines()]
    for r in records:
        check(r, "slurm.node", line=True, where="slurm.node")
    assert {r["node"]: r["owned_by_dcctl"] for r in records} == {"gpu001": True, "gpu002": False}
    back = dcctl(inv, "-o", "jsonl", "resume", "-l", "node-a.example.net", "--yes", env=env)
    assert back.exit_code == 0, back.output
    check(json.loads(back.stdout.splitlines()[0]), "slurm.action", line=True, where="action")
    slurm.wait_for(lambda: not nodes(slurm)["gpu001"].drain, 20, "gpu001 resumed")


def test_slurm_unreachable_changes_nothing_and_exits_3(fleet, tmp_path):
    conf = tmp_path / "slurm.conf"  # a controller on a port nothing listens on
    conf.write_text("ClusterName=none\nSlurmctldHost=localhost\nSlurmctldPort=2\n"
                    "NodeName=gpu[001-003] CPUs=1\nPartitionName=p Nodes=ALL\n")  # fmt: skip
    env = {"SLURM_CONF": str(conf), "DCCTL_STATE_DIR": str(tmp_path / "state")}
    set_dmesg(fleet, "gpu002", XID_79)
    try:
        started = time.monotonic()
        result = dcctl(fleet["inventory"], "health", "--drain", "--no-outliers", env=env)
        assert time.monotonic() - started < 40
    finally:
        set_dmesg(fleet, "gpu002", QUIET)
    assert result.exit_code == 3, result.output
    assert "Slurm left as it was (unknown)" in result.output
    assert not (tmp_path / "state" / "health" / "state.json").exists()  # no count kept
    status = dcctl(fleet["inventory"], "slurm", "status", env=env)
    assert status.exit_code == 3 and "unreachable" in status.output


def test_plan_place_starts_from_what_slurm_runs(slurm, fleet, tmp_path):
    env = {"SLURM_CONF": slurm.env["SLURM_CONF"]}
    slurm.submit("gpu002", 300, gpus=3)
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  - {name: whole, replicas: 3, gpus: 8}\n"
                    "  - {name: five, gpus: 5}\n")  # fmt: skip
    plan = dcctl(fleet["inventory"], "-o", "json", "plan", "place", str(jobs),
                 "--allocations-from", "slurm", env=env)  # fmt: skip
    assert plan.exit_code == 1, plan.output  # the gang of three whole nodes no longer fits
    placed = {j["name"]: j for j in json.loads(plan.stdout)["jobs"]}
    assert not placed["whole"]["placed"] and placed["five"]["placed"]
    for replica in placed["five"]["replicas"]:
        if replica["host"] == "gpu002":
            assert not set(replica["gpus"]) & {0, 1, 2}  # Slurm's job holds GPUs 0-2
    without = dcctl(fleet["inventory"], "-o", "json", "plan", "place", str(jobs), env=env)
    whole = next(j for j in json.loads(without.stdout)["jobs"] if j["name"] == "whole")
    assert whole["placed"]  # without Slurm's view, the gang fits
