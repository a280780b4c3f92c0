"""``dcctl health --local --slurm`` as the HealthCheckProgram of a real Slurm (slurm_harness).

slurmd runs it on each node every 2 s (with only ``$SLURMD_NODENAME`` in its environment, so
the wrapper sets PATH and SLURM_CONF, as docs/slurm.md says). Each node's PATH has a replaying
``nvidia-smi`` (the recorded H100) and a ``dmesg``; gpu002's shows an Xid 79: slurmd's own
health check drains gpu002, only gpu002, with dcctl's reason, and resumes it two healthy runs
after the fault is gone. A controller that does not answer never holds the check past its
deadline.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from dcctl.scheduler.slurm_nodes import parse_scontrol_nodes
from tests.slurm_harness import SlurmCluster, slurm_available
from tests.sshd_harness import FIXTURES, REPLAY

reason = slurm_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)
XID_79 = (
    "[ 1234.567890] NVRM: Xid (PCI:0000:1a:00): 79, pid='<unknown>', name=<unknown>, "
    "GPU has fallen off the bus."
)
QUIET = "[    0.5] NVRM: loading NVIDIA UNIX Open Kernel Module for x86_64  580.159.04"
ROOT = Path(__file__).resolve().parent.parent


def fake_node(directory: Path, dmesg: str) -> None:
    """A bin directory with the replaying nvidia-smi and a dmesg showing ``dmesg``."""
    directory.mkdir(parents=True, exist_ok=True)
    smi = directory / "nvidia-smi"
    smi.write_text(REPLAY.format(python=sys.executable, capture=str(FIXTURES), gpus=8,
                                 mode="replay", overrides={}, override_gpu=0, apps=[]))  # fmt: skip
    smi.chmod(0o755)
    fake = directory / "dmesg"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n" + dmesg + "\nEOF\n")
    fake.chmod(0o755)


@pytest.fixture(scope="module")
def checked_cluster():
    root = Path(tempfile.mkdtemp(prefix="dcctl-slurm-"))
    work = root / "hc"
    for node in ("gpu001", "gpu002"):
        fake_node(work / f"bin-{node}", QUIET)
    inventory = work / "inventory.yaml"
    inventory.write_text(
        textwrap.dedent("""\
        defaults:
          scheduler: {resume_after: 2}
        profiles:
          h100:
            gpu: {model: NVIDIA H100 80GB HBM3, count: 8, driver: "580.159.04",
                   power_limit_w: {min: 200, default: 700, max: 700}}
        hosts:
          - {name: "gpu[001-002]", transport: local, profile: h100}
        """)
    )
    wrapper = work / "dcctl-healthcheck"
    conf = root / "etc" / "slurm.conf"
    wrapper.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        # slurmd gives a HealthCheckProgram no PATH, no SLURM_CONF: only $SLURMD_NODENAME.
        export PATH="{work}/bin-$SLURMD_NODENAME:/usr/bin:/bin:/usr/sbin:/sbin"
        export SLURM_CONF={conf} PYTHONPATH={ROOT}
        exec {sys.executable} -m dcctl -q -i {inventory} health --local --slurm --no-outliers \\
          --state-dir {work}/state-$SLURMD_NODENAME >> {work}/log-$SLURMD_NODENAME 2>&1
        """)
    )
    wrapper.chmod(0o755)
    extra = f"HealthCheckProgram={wrapper}\nHealthCheckInterval=2\n"
    try:
        with SlurmCluster(root, nodes=2, extra_conf=extra) as c:
            yield c, work
    finally:
        shutil.rmtree(root, ignore_errors=True)  # the wrapper lives beside the cluster


def nodes(cluster):
    run = cluster.run(["scontrol", "-o", "-d", "show", "node"])
    return {n.name: n for n in parse_scontrol_nodes(run.stdout)}


def test_slurm_runs_the_check_on_each_node_and_it_drains_only_itself(checked_cluster):
    cluster, work = checked_cluster
    fake_node(work / "bin-gpu002", XID_79)
    cluster.wait_for(lambda: nodes(cluster)["gpu002"].drain, 40, "gpu002 drained by its check")
    now = nodes(cluster)
    assert now["gpu002"].reason == "dcctl: health xid_79 (reboot_node)"
    assert not now["gpu001"].drain  # each node judges and drains only itself
    log = (work / "log-gpu001").read_text()
    assert "Traceback" not in log and "error" not in log
    fake_node(work / "bin-gpu002", QUIET)  # repaired
    cluster.wait_for(lambda: not nodes(cluster)["gpu002"].drain, 40, "gpu002 resumed")
    actions = (work / "state-gpu002" / "health" / "actions.jsonl").read_text()
    assert '"action": "drain"' in actions and '"action": "resume"' in actions
    assert "healthy 2 run(s) in a row" in actions, actions


def test_a_controller_that_never_answers_does_not_hold_the_check(checked_cluster, tmp_path):
    """slurmctld accepts the connection and says nothing: the watchdog ends the check, exit 0."""
    munge = checked_cluster[0].root / "munge" / "munge.sock"  # a real munged signs the request
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        conf = tmp_path / "slurm.conf"
        conf.write_text(f"ClusterName=slow\nSlurmctldHost=localhost\nSlurmctldPort={port}\n"
                        f"AuthType=auth/munge\nAuthInfo=socket={munge}\n"
                        "NodeName=gpu001 CPUs=1\nPartitionName=p Nodes=ALL\n")  # fmt: skip
        bin_dir = tmp_path / "bin"
        fake_node(bin_dir, XID_79)  # a drain is due: the check must reach slurmctld
        env = {**os.environ, "SLURM_CONF": str(conf), "SLURMD_NODENAME": "gpu001",
               "PATH": f"{bin_dir}:/usr/bin:/bin:/usr/sbin:/sbin"}  # fmt: skip
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "dcctl", "-i", str(tmp_path / "none.yaml"), "health",
             "--local", "--slurm", "--deadline", "3", "--state-dir", str(tmp_path / "state")],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        took = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert took < 8, took  # the deadline (3 s) and start-up, not scontrol's own wait
    assert "gave up after 3 s" in run.stderr
    assert "critical" in run.stdout  # the verdict was printed before Slurm was asked
