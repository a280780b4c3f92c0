"""``apply --drain-with slurm`` against a real Slurm (tests/slurm_harness.py) while jobs run.

Each host's change is a command that records, at the moment it runs, the jobs on its own node and
every node's state (``sinfo``): so the test sees that a host is changed only once its jobs ended,
and that the next batch's hosts were still running jobs (not drained) meanwhile.
"""

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
from dcctl.scheduler.slurm_nodes import parse_scontrol_nodes
from tests.slurm_harness import slurm_available, temporary_cluster

reason = slurm_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)
HOSTS = ("gpu001", "gpu002", "gpu003", "gpu004")


@pytest.fixture(scope="module")
def cluster():
    with temporary_cluster(nodes=4) as c:
        yield c


@pytest.fixture
def slurm(cluster):
    yield cluster
    cluster.reset()


@pytest.fixture
def site(tmp_path, cluster):
    record = tmp_path / "record.sh"
    record.write_text(
        textwrap.dedent("""\
        #!/bin/sh
        # $1: this host's Slurm node, $2: its box. What ran on it, and every node's state, now.
        squeue -h -w "$1" -t RUNNING -o %A > "$2/jobs-at-apply"
        sinfo -h -N -o '%N %t' > "$2/nodes-at-apply"
        touch "$2/applied"
        """)
    )
    record.chmod(0o755)
    boxes = {h: tmp_path / h for h in HOSTS}
    for box in boxes.values():
        box.mkdir()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("hosts:\n" + "".join(
        f"  - {{name: {h}, transport: local, vars: {{box: '{b}', node: {h}}}}}\n"
        for h, b in boxes.items()
    ))  # fmt: skip
    playbook = tmp_path / "driver.yaml"
    playbook.write_text(
        textwrap.dedent(f"""\
        name: driver-setting
        hosts: all
        resources:
          - type: command
            argv: ["{record}", "{{{{ node }}}}", "{{{{ box }}}}"]
            creates: "{{{{ box }}}}/applied"
        """)
    )
    state = tmp_path / "state"
    env = {"SLURM_CONF": cluster.env["SLURM_CONF"], "DCCTL_STATE_DIR": str(state)}
    return {"inventory": inventory, "playbook": playbook, "boxes": boxes, "state": state,
            "env": env}  # fmt: skip


def apply(site, *args):
    result = CliRunner().invoke(
        app, ["-i", str(site["inventory"]), "apply", str(site["playbook"]), "--yes",
              "--drain-with", "slurm", *args], env=site["env"])  # fmt: skip
    assert "Traceback" not in result.output, result.output
    return result


def nodes(cluster):
    run = cluster.run(["scontrol", "-o", "-d", "show", "node"])
    return {n.name: n for n in parse_scontrol_nodes(run.stdout)}


def seen_at_apply(site, host):
    box = site["boxes"][host]
    jobs = (box / "jobs-at-apply").read_text().split()
    states = dict(line.split() for line in (box / "nodes-at-apply").read_text().splitlines())
    return jobs, states


def journal(site):
    (path,) = sorted((site["state"] / "runs").glob("*.jsonl"))
    return path.stem, [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_two_batches_drain_wait_apply_resume_while_jobs_run(slurm, site):
    short = slurm.submit("gpu001", 5)  # ends during batch 1's wait
    later = slurm.submit("gpu003", 14)  # runs through batch 1, ends during batch 2's wait
    result = apply(site, "--batch-by", "2", "--drain-timeout", "60")
    assert result.exit_code == 0, result.output
    jobs, states = seen_at_apply(site, "gpu001")
    assert jobs == []  # changed only once its job had ended
    assert states["gpu001"] == "drain" and states["gpu002"] == "drain"  # the batch: drained
    assert states["gpu003"] == "mix"  # the next batch kept running its job meanwhile
    jobs, states = seen_at_apply(site, "gpu003")
    assert jobs == [] and states["gpu001"] == "idle"  # batch 1 was back in service by then
    assert not any(n.drain for n in nodes(slurm).values())  # every host resumed
    run_id, events = journal(site)
    kinds = [(e["event"], e.get("host")) for e in events if e["event"].startswith("slurm_")]
    assert sorted(kinds) == sorted([("slurm_drain", h) for h in HOSTS]
                                   + [("slurm_resume", h) for h in HOSTS])  # fmt: skip
    drains = [e for e in events if e["event"] == "slurm_drain"]
    assert all(e["reason"] == f"dcctl: apply {run_id}" for e in drains)
    del short, later


def test_a_host_whose_jobs_do_not_end_is_held_and_resume_finishes_it(slurm, site):
    stuck = slurm.submit("gpu002", 300)
    result = apply(site, "--batch-by", "2", "--drain-timeout", "3")
    assert result.exit_code == 3, result.output  # not every host was applied
    assert "gpu002: held" in result.output and "--drain-timeout" in result.output
    assert not (site["boxes"]["gpu002"] / "applied").exists()
    now = nodes(slurm)
    assert not now["gpu002"].drain and now["gpu002"].state == "mixed"  # drain undone, job on
    assert all((site["boxes"][h] / "applied").exists() for h in ("gpu001", "gpu003", "gpu004"))
    assert not any(n.drain for n in now.values())
    run_id, _ = journal(site)
    slurm.run(["scancel", stuck])
    slurm.wait_for(lambda: nodes(slurm)["gpu002"].state == "idle", 20, "job gone")
    again = apply(site, "--resume", run_id, "--drain-timeout", "30")
    assert again.exit_code == 0, again.output
    assert (site["boxes"]["gpu002"] / "applied").exists()
    assert not any(n.drain for n in nodes(slurm).values())


def test_on_drain_timeout_stop_leaves_the_batch_drained_and_says_so(slurm, site):
    stuck = slurm.submit("gpu001", 300)
    result = apply(site, "--batch-by", "2", "--drain-timeout", "2", "--on-drain-timeout", "stop")
    assert result.exit_code == 3, result.output
    assert "left drained" in result.output
    now = nodes(slurm)
    run_id, events = journal(site)
    assert now["gpu001"].draining and now["gpu001"].reason == f"dcctl: apply {run_id}"
    assert now["gpu002"].drained and not now["gpu003"].drain  # batch 2 never touched
    assert not any((site["boxes"][h] / "applied").exists() for h in HOSTS)
    assert any(e["event"] == "run_stopped" for e in events)
    slurm.run(["scancel", stuck])
    again = apply(site, "--resume", run_id, "--drain-timeout", "30", "--batch-by", "2")
    assert again.exit_code == 0, again.output
    assert not any(n.drain for n in nodes(slurm).values())


def test_ctrl_c_while_draining_then_resume_leaves_no_node_drained(slurm, site):
    stuck = slurm.submit("gpu001", 300)
    env = {**os.environ, **site["env"], "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcctl", "-i", str(site["inventory"]), "apply",
         str(site["playbook"]), "--yes", "--drain-with", "slurm", "--batch-by", "2",
         "--drain-timeout", "120"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        slurm.wait_for(lambda: nodes(slurm)["gpu001"].drain, 30, "batch 1 draining")
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 10 and "Traceback" not in err
    assert "left drained in Slurm" in err
    run_id, events = journal(site)
    now = nodes(slurm)
    assert now["gpu001"].reason == now["gpu002"].reason == f"dcctl: apply {run_id}"
    assert not now["gpu003"].drain and not now["gpu004"].drain  # never reached
    assert any(e["event"] == "run_interrupted" for e in events)
    assert not any((site["boxes"][h] / "applied").exists() for h in HOSTS)
    slurm.run(["scancel", stuck])
    again = apply(site, "--resume", run_id, "--drain-timeout", "30", "--batch-by", "2")
    assert again.exit_code == 0, again.output
    assert all((site["boxes"][h] / "applied").exists() for h in HOSTS)
    assert not any(n.drain for n in nodes(slurm).values())  # none left drained by mistake


def test_slurm_unreachable_before_a_batch_changes_nothing_and_exits_3(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        f"hosts:\n  - {{name: gpu001, transport: local, vars: {{box: '{box}'}}}}\n"
    )
    playbook = tmp_path / "p.yaml"
    playbook.write_text('name: p\nhosts: all\nresources:\n'
                        '  - {type: file, path: "{{ box }}/conf", content: "x\\n"}\n')  # fmt: skip
    conf = tmp_path / "slurm.conf"  # a controller on a port nothing listens on
    conf.write_text("ClusterName=none\nSlurmctldHost=localhost\nSlurmctldPort=2\n"
                    "NodeName=gpu001 CPUs=1\nPartitionName=p Nodes=ALL\n")  # fmt: skip
    env = {"SLURM_CONF": str(conf), "DCCTL_STATE_DIR": str(tmp_path / "state")}
    result = CliRunner().invoke(app, ["-i", str(inventory), "apply", str(playbook), "--yes",
                                      "--drain-with", "slurm"], env=env)  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "slurm:" in result.output and "unreachable" in result.output
    assert not (box / "conf").exists()  # not drained, so not changed
