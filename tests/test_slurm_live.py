"""The Slurm readers against a real Slurm started by the test (tests/slurm_harness.py)."""

from __future__ import annotations

import os

import pytest

from dcctl.scheduler.slurm_nodes import (
    SchedulerUnreachableError,
    check_reachable,
    parse_scontrol_nodes,
    parse_sinfo_json,
)
from tests.slurm_harness import slurm_available, temporary_cluster

reason = slurm_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)


@pytest.fixture(scope="module")
def cluster():
    with temporary_cluster(nodes=3) as c:
        yield c


def nodes(cluster):
    run = cluster.run(["scontrol", "-o", "-d", "show", "node"])
    check_reachable(run.stdout + run.stderr, run.returncode)
    return {n.name: n for n in parse_scontrol_nodes(run.stdout)}


def test_readers_follow_a_drain_with_a_running_job(cluster):
    job = cluster.run(["sbatch", "-w", "gpu002", "--gres=gpu:3", "-o", "/dev/null",
                       "--wrap", "sleep 300"])  # fmt: skip
    assert job.returncode == 0, job.stderr
    job_id = job.stdout.split()[-1]
    cluster.wait_for(lambda: nodes(cluster)["gpu002"].gpus_used == 3, 20, "job running")
    assert cluster.run(["scontrol", "update", "nodename=gpu003", "state=drain",
                        "reason=admin: bad fan"]).returncode == 0  # fmt: skip
    assert cluster.run(["scontrol", "update", "nodename=gpu002", "state=drain",
                        "reason=dcctl: xid_79"]).returncode == 0  # fmt: skip
    now = nodes(cluster)
    assert now["gpu002"].draining and now["gpu002"].owned_by("dcctl:")
    assert now["gpu002"].gpu_indexes_used == (0, 1, 2)
    assert now["gpu003"].drained and now["gpu003"].reason == "admin: bad fan"
    js = {n.name: n for n in parse_sinfo_json(cluster.run(["sinfo", "--json"]).stdout)}
    assert js == now  # both readers, the same moment
    cluster.run(["scancel", job_id])
    cluster.wait_for(lambda: nodes(cluster)["gpu002"].drained, 30, "gpu002 drained")
    for node in ("gpu002", "gpu003"):
        cluster.run(["scontrol", "update", f"nodename={node}", "state=resume"])
    cluster.wait_for(lambda: not any(n.drain for n in nodes(cluster).values()), 20, "resumed")


def test_a_stopped_controller_is_unreachable_in_bounded_time(cluster):
    import signal
    import subprocess
    import time

    pid = int((cluster.root / "run" / "slurmctld.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    cluster.wait_for(lambda: not _alive(pid), 15, "slurmctld stopped")
    started = time.monotonic()
    try:
        run = cluster.run(["scontrol", "-o", "show", "node"], timeout=20)
        text, rc = run.stdout + run.stderr, run.returncode
    except subprocess.TimeoutExpired:
        text, rc = "", None
    with pytest.raises(SchedulerUnreachableError):
        check_reachable(text, rc)
    assert time.monotonic() - started < 21
    subprocess.run(["/usr/sbin/slurmctld"], env=cluster.env, check=True, capture_output=True)
    cluster.wait_for(lambda: cluster.states() == {"idle"}, 30, "back after a restart")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_owned_drain_and_resume_on_a_real_slurm(cluster):
    from dcctl.scheduler.ownership import plan_drain, plan_resume

    assert cluster.run(["scontrol", "update", "nodename=gpu003", "state=drain",
                        "reason=admin: bad fan"]).returncode == 0  # fmt: skip
    drain = plan_drain(nodes(cluster), ["gpu001", "gpu003"], "xid_79 (reset_gpu)")
    assert [a.action for a in drain] == ["drain", "skip"]
    assert "admin: bad fan" in drain[1].why
    for action in drain:
        if action.argv:
            assert cluster.run(list(action.argv)).returncode == 0
    now = nodes(cluster)
    assert now["gpu001"].reason == "dcctl: xid_79 (reset_gpu)" and now["gpu001"].drained
    assert now["gpu003"].reason == "admin: bad fan"  # an admin's drain stays
    resume = plan_resume(now, ["gpu001", "gpu002", "gpu003"])
    assert [a.action for a in resume] == ["resume", "skip", "skip"]
    for action in resume:
        if action.argv:
            assert cluster.run(list(action.argv)).returncode == 0
    cluster.wait_for(lambda: not nodes(cluster)["gpu001"].drain, 20, "gpu001 resumed")
    assert nodes(cluster)["gpu003"].drain
    forced = plan_resume(nodes(cluster), ["gpu003"], force=True)
    assert forced[0].action == "resume" and "overrides 'admin: bad fan'" in forced[0].why
    assert cluster.run(list(forced[0].argv)).returncode == 0
    cluster.wait_for(lambda: not any(n.drain for n in nodes(cluster).values()), 20, "all resumed")


def test_drain_and_resume_commands(cluster, tmp_path):
    from typer.testing import CliRunner

    from dcctl.cli import app

    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  - name: gpu[001-003]\n    address: 127.0.0.[1-3]\n")
    env = {"SLURM_CONF": cluster.env["SLURM_CONF"]}

    def dcctl(*args):
        return CliRunner().invoke(app, ["-i", str(inv), *args], env=env)

    assert cluster.run(["scontrol", "update", "nodename=gpu003", "state=drain",
                        "reason=admin: bad fan"]).returncode == 0  # fmt: skip
    dry = dcctl("drain", "-l", "gpu[001-003]", "--reason", "xid_79")
    assert dry.exit_code == 2, dry.output
    assert "gpu[001-002]: drain" in dry.output and "gpu003: skip" in dry.output
    assert not nodes(cluster)["gpu001"].drain  # a dry run changes nothing
    done = dcctl("drain", "-l", "gpu[001-003]", "--reason", "xid_79", "--yes")
    assert done.exit_code == 0, done.output
    now = nodes(cluster)
    assert now["gpu001"].reason == now["gpu002"].reason == "dcctl: xid_79"
    assert now["gpu003"].reason == "admin: bad fan"
    assert dcctl("drain", "-l", "gpu[001-002]", "--reason", "xid_79").exit_code == 0  # nothing left
    back = dcctl("resume", "-l", "gpu[001-003]", "--yes")
    assert back.exit_code == 0, back.output
    cluster.wait_for(lambda: not nodes(cluster)["gpu002"].drain, 20, "resumed")
    assert nodes(cluster)["gpu003"].drain  # not ours: left drained
    forced = dcctl("resume", "-l", "gpu003", "--force", "--yes")
    assert forced.exit_code == 0 and "overrides 'admin: bad fan'" in forced.output
    cluster.wait_for(lambda: not any(n.drain for n in nodes(cluster).values()), 20, "all back")


def test_commands_with_the_controller_down_change_nothing_and_exit_3(tmp_path):
    from typer.testing import CliRunner

    from dcctl.cli import app

    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  - name: gpu001\n    address: 127.0.0.1\n")
    conf = tmp_path / "slurm.conf"  # a controller on a port nothing listens on
    conf.write_text("ClusterName=none\nSlurmctldHost=localhost\nSlurmctldPort=2\n"
                    "NodeName=gpu001 CPUs=1\nPartitionName=p Nodes=ALL\n")  # fmt: skip
    result = CliRunner().invoke(app, ["-i", str(inv), "drain", "-l", "gpu001", "--reason", "x",
                                      "--yes"], env={"SLURM_CONF": str(conf)})  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "unreachable" in result.output
