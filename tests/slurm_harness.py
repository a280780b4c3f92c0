"""A real Slurm cluster on this machine for tests: munged, slurmctld and N slurmd.

Adapted from ../shared/recipes/slurm-up.sh (verified with Slurm 22.05.8): every file under one
directory, ports of its own (found free at start, never Slurm's 6817/6818), nodes gpu001…
declaring 8 GPUs each on fake device nodes. Stopped in the order that never hangs: slurmd,
slurmctld, munged, then SIGKILL for anything left after 10 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SLURMCTLD = "/usr/sbin/slurmctld"
SLURMD = "/usr/sbin/slurmd"
MUNGED = "/usr/sbin/munged"


def slurm_available() -> str | None:
    """Why a Slurm cluster cannot start here, or None when it can."""
    for path in (SLURMCTLD, SLURMD, MUNGED):
        if not os.path.exists(path):
            return f"{path} is not installed; .ci/run installs slurmctld slurmd slurm-client munge"
    if shutil.which("scontrol") is None:
        return "scontrol is not installed (slurm-client)"
    if os.geteuid() != 0:
        return "the test cluster needs root (munge user, device nodes)"
    return None


def _free_ports(count: int) -> int:
    """A base port with ``count`` consecutive free ports after it."""
    for base in range(21000, 60000, 97):
        ok = True
        for port in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports for the Slurm test cluster")


class SlurmCluster:
    """``with SlurmCluster(root, nodes=3) as c: c.run(["sinfo"])``."""

    def __init__(self, root: Path, nodes: int = 3, extra_conf: str = "") -> None:
        self.root = root
        self.extra_conf = extra_conf
        self.nodes = [f"gpu{i:03d}" for i in range(1, nodes + 1)]
        self.conf = root / "etc" / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, argv: list[str], timeout: float = 15) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client against this cluster."""
        return subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    def start(self) -> None:
        """Write the configuration, start the daemons, wait until every node is idle."""
        d = self.root
        d.chmod(0o755)
        for sub in ("etc", "state", "run", "log", "munge", "dev"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            (d / "spool" / node).mkdir(parents=True, exist_ok=True)
        for i in range(8):
            dev = d / "dev" / f"nvidia{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(195, i))
        base = _free_ports(2 + len(self.nodes))
        ctl, slurmd_port, first = base, base + 1, base + 2
        last = f"{len(self.nodes):03d}"
        self.conf.write_text(f"""\
ClusterName=dcctltest
SlurmctldHost=localhost
SlurmctldPort={ctl}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.sock
MailProg=/bin/true
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
GresTypes=gpu
NodeName=gpu[001-{last}] NodeHostname=localhost NodeAddr=127.0.0.1 Port=[{first}-{first + len(self.nodes) - 1}] CPUs=2 RealMemory=1000 Gres=gpu:h100:8 State=UNKNOWN
PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
{self.extra_conf}""")  # noqa: E501
        (d / "etc" / "gres.conf").write_text(
            f"AutoDetect=off\nNodeName=gpu[001-{last}] Name=gpu Type=h100 "
            f"File={d}/dev/nvidia[0-7]\n"
        )
        shutil.chown(d / "munge", "munge", "munge")
        (d / "munge").chmod(0o755)
        key = d / "munge" / "munge.key"
        if not key.exists():
            subprocess.run(["runuser", "-u", "munge", "--", "mungekey", "-c", "-k", str(key)],
                           check=True, capture_output=True)  # fmt: skip
        subprocess.run(
            ["runuser", "-u", "munge", "--", MUNGED, f"--socket={d}/munge/munge.sock",
             f"--key-file={key}", f"--pid-file={d}/munge/munged.pid",
             f"--log-file={d}/munge/munged.log", f"--seed-file={d}/munge/munged.seed"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run([SLURMCTLD, "-i"], env=self.env, check=True, capture_output=True)
        for node in self.nodes:
            subprocess.run([SLURMD, "-N", node], env=self.env, check=True, capture_output=True)
        self.wait_for(lambda: self.states() == {"idle"}, 30, "every node idle")

    def reset(self) -> None:
        """No job, no drain: what every test leaves behind for the next."""
        self.run(["scancel", "--full", "-u", "root"])
        self.wait_for(lambda: not self.run(["squeue", "-h"]).stdout.strip(), 30, "jobs gone")
        for node in self.nodes:
            self.run(["scontrol", "update", f"nodename={node}", "state=resume"])
        self.wait_for(lambda: self.states() == {"idle"}, 30, "every node idle again")

    def submit(self, node: str, seconds: float, gpus: int = 1) -> str:
        """A job of ``gpus`` GPUs sleeping ``seconds`` on ``node``; its id once it runs."""
        run = self.run(["sbatch", "-w", node, f"--gres=gpu:{gpus}", "-o", "/dev/null",
                        "--wrap", f"sleep {seconds}"])  # fmt: skip
        assert run.returncode == 0, run.stderr
        job = run.stdout.split()[-1]
        self.wait_for(
            lambda: self.run(["squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip() == "RUNNING",
            20, f"job {job} running",
        )  # fmt: skip
        return job

    def states(self) -> set[str]:
        """The distinct node states sinfo shows now (empty when it does not answer)."""
        run = self.run(["sinfo", "-h", "-N", "-o", "%t"], timeout=10)
        return set(run.stdout.split()) if run.returncode == 0 else set()

    def wait_for(self, condition: object, seconds: float, what: str) -> None:
        """Poll ``condition()`` until true (never sleep-and-assert: Slurm is asynchronous)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():  # type: ignore[operator]
                return
            time.sleep(0.3)
        log = self.root / "log" / "slurmctld.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise TimeoutError(f"Slurm test cluster: not {what} after {seconds} s\n{tail}")

    def stop(self) -> None:
        """slurmd, slurmctld, munged; SIGKILL what is left after 10 s."""
        pids = []
        for name in [*(f"slurmd-{n}.pid" for n in self.nodes), "slurmctld.pid"]:
            pids.append(self.root / "run" / name)
        pids.append(self.root / "munge" / "munged.pid")
        alive = []
        for pidfile in pids:
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
                os.kill(pid, signal.SIGTERM)
                alive.append(pid)
        deadline = time.monotonic() + 10
        for pid in alive:
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def temporary_cluster(nodes: int = 3, extra_conf: str = "") -> Iterator[SlurmCluster]:
    """A started cluster in a fresh directory, removed afterwards.

    Not under pytest's tmp: munged runs as the munge user and must traverse every parent.
    """
    root = Path(tempfile.mkdtemp(prefix="dcctl-slurm-"))
    try:
        with SlurmCluster(root, nodes=nodes, extra_conf=extra_conf) as cluster:
            yield cluster
    finally:
        shutil.rmtree(root, ignore_errors=True)
