"""Real OpenSSH servers for the end-to-end tests, each on its own loopback address.

Each server has its own host key, authorized_keys, HOME (so no login shell reads root's
.bashrc) and PATH, where a replaying ``nvidia-smi`` answers from the recorded H100 capture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
FIXTURES = Path(__file__).parent / "fixtures" / "h100-idle"

REPLAY = textwrap.dedent(
    '''\
    #!{python}
    """A replaying nvidia-smi: answers from a recorded capture, N GPUs cloned from GPU 0."""
    import os, sys, time
    CAPTURE = {capture!r}
    GPUS = int(os.environ.get("REPLAY_GPUS", "{gpus}"))
    MODE = {mode!r}
    OVERRIDES = {overrides!r}  # query field -> value, on GPU OVERRIDE_GPU: an injected fault
    OVERRIDE_GPU = {override_gpu!r}
    APPS = {apps!r}  # (GPU index, pid, process name, MiB) for --query-compute-apps
    if MODE == "hang":
        time.sleep(3600)

    def body(name):
        lines = open(os.path.join(CAPTURE, name)).read().split("\\n")
        while lines and lines[-1] == "":
            lines.pop()
        return lines[0][2:], lines[1:-1]

    args = sys.argv[1:]
    query = next((a for a in args if a.startswith("--query-gpu=")), None)
    if query:
        cmd, rows = body("nvsmi_query_nounits.csv")
        have = cmd.split("--query-gpu=")[1].split()[0].split(",")
        want = query.split("=", 1)[1].split(",")
        # Fields of this driver that the CSV capture did not ask for, as its -q shows them.
        extra = {{"gpu_recovery_action": "None", "temperature.gpu.tlimit": "53"}}
        missing = [f for f in want if f not in have and f not in extra]
        if missing:
            print(f'Field "{{missing[0]}}" is not a valid field to query.')
            sys.exit(2)
        values = dict(extra, **dict(zip(have, [c.strip() for c in rows[0].split(",")])))
        loop_ms = int(args[args.index("-lms") + 1]) if "-lms" in args else None
        while True:
            for i in range(GPUS):
                row = dict(values, index=str(i), uuid=values["uuid"][:-2] + f"{{i:02d}}",
                           **{{"pci.bus_id": f"00000000:{{0x18 + i:02X}}:00.0"}})
                if i == OVERRIDE_GPU:
                    row.update(OVERRIDES)
                print(", ".join(row[f] for f in want))
            sys.stdout.flush()
            if loop_ms is None:
                break
            time.sleep(loop_ms / 1000)
    elif args[:2] == ["-q", "-x"]:
        print("\\n".join(body("nvsmi_qx.xml")[1]))
    elif args[:1] == ["topo"]:
        print("\\n".join(body("nvsmi_topo.txt")[1]))
    elif args[:1] == ["nvlink"]:
        print("\\n".join(body("nvsmi_nvlink.txt")[1]))  # the capture: no NVLink (one VM GPU)
    elif any(a.startswith("--query-compute-apps=") for a in args):
        uuid0 = body("nvsmi_query_nounits.csv")[1][0].split(", ")[1]
        for gpu, pid, name, mib in APPS:  # gpu_uuid,pid,process_name,used_memory
            print(f"{{uuid0[:-2]}}{{gpu:02d}}, {{pid}}, {{name}}, {{mib}}")
    else:
        print("\\n".join(body("nvsmi_default.txt")[1]))
    '''
)


def free_port(address: str) -> int:
    """A TCP port free on an address."""
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def new_key(path: Path) -> paramiko.Ed25519Key:
    """Generate an ed25519 key pair at path (OpenSSH format) and return it."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return paramiko.Ed25519Key.from_private_key_file(str(path))


@dataclass
class SshServer:
    """One sshd on a loopback address."""

    name: str
    address: str
    root: Path
    authorized: list[str]
    nvidia: str | None = "replay"  # "replay", "hang" or None (no driver)
    gpus: int = 8
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    host_key: paramiko.PKey | None = None
    netns: str | None = None  # run sshd inside this network namespace
    overrides: dict[str, str] | None = None  # nvidia-smi query fields changed on one GPU
    override_gpu: int = 0
    dmesg: str | None = None  # a kernel log to show instead of the machine's (injected Xids)
    shared_host_key: Path | None = None  # reuse one host key (benchmarks with many hosts)
    env: dict[str, str] | None = None  # more variables for every session (SLURM_CONF=...)
    apps: list[tuple[int, int, str, int]] | None = None  # compute processes nvidia-smi lists

    def start(self) -> SshServer:
        """Write the config, start sshd in the foreground, wait until it listens."""
        self.root.mkdir(parents=True, exist_ok=True)
        home, bin_dir = self.root / "home", self.root / "bin"
        home.mkdir(exist_ok=True)
        bin_dir.mkdir(exist_ok=True)
        if self.nvidia is not None:
            script = bin_dir / "nvidia-smi"
            script.write_text(
                REPLAY.format(
                    python=sys.executable,
                    capture=str(FIXTURES),
                    gpus=self.gpus,
                    mode=self.nvidia,
                    overrides=self.overrides or {},
                    override_gpu=self.override_gpu,
                    apps=self.apps or [],
                )
            )
            script.chmod(0o755)
        if self.dmesg is not None:
            fake = bin_dir / "dmesg"
            fake.write_text("#!/bin/sh\ncat <<'EOF'\n" + self.dmesg + "\nEOF\n")
            fake.chmod(0o755)
        key_path = self.shared_host_key or self.root / "ssh_host_ed25519_key"
        if not key_path.exists():
            self.host_key = new_key(key_path)
        else:
            self.host_key = paramiko.Ed25519Key.from_private_key_file(str(key_path))
        (self.root / "authorized_keys").write_text("\n".join(self.authorized) + "\n")
        self.port = self.port or free_port(self.address)
        path = ":".join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"])
        extra_env = "".join(f" {k}={v}" for k, v in (self.env or {}).items())
        config = self.root / "sshd_config"
        config.write_text(
            textwrap.dedent(
                f"""\
                Port {self.port}
                ListenAddress {self.address}
                HostKey {key_path}
                PidFile {self.root}/sshd.pid
                AuthorizedKeysFile {self.root}/authorized_keys
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PubkeyAuthentication yes
                PermitRootLogin prohibit-password
                SetEnv HOME={home} PATH={path}{extra_env}
                Subsystem sftp internal-sftp
                LogLevel ERROR
                MaxStartups 200
                MaxSessions 50
                """
            )
        )
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.process = subprocess.Popen(
            [*prefix, SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "sshd.log", "wb"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.address, self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError((self.root / "sshd.log").read_text()) from None
                time.sleep(0.05)
        raise RuntimeError(f"sshd on {self.address}:{self.port} did not start")

    def stop(self) -> None:
        """Stop sshd."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


def sshd_available() -> str | None:
    """Why real sshd tests cannot run here, or None when they can."""
    if not os.path.exists(SSHD):
        return "OpenSSH server (sshd) is not installed; .ci/run installs it"
    if os.geteuid() != 0:
        return "sshd test servers need root (privilege separation directory)"
    return None


def client_keys(home: Path) -> list[str]:
    """A client key in ``home/.ssh`` (made once): the authorized_keys lines for the servers."""
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    key = new_key(home / ".ssh" / "id_ed25519")
    return [f"ssh-ed25519 {key.get_base64()}"]


def write_known_hosts(home: Path, servers: Iterable[SshServer]) -> None:
    """``home/.ssh/known_hosts`` with every server's key, as OpenSSH writes entries."""
    from dcctl.transport.hostkeys import host_id

    (home / ".ssh" / "known_hosts").write_text("".join(
        f"{host_id(s.address, s.port)} ssh-ed25519 {s.host_key.get_base64()}\n"
        for s in servers if s.host_key is not None
    ))  # fmt: skip


@contextlib.contextmanager
def client_home(home: Path) -> Iterator[Path]:
    """``$HOME`` is ``home`` (its .ssh is the client's) and no agent, until the block ends."""
    old, agent = os.environ.get("HOME"), os.environ.pop("SSH_AUTH_SOCK", None)
    os.environ["HOME"] = str(home)
    try:
        yield home
    finally:
        if old is not None:
            os.environ["HOME"] = old
        if agent is not None:
            os.environ["SSH_AUTH_SOCK"] = agent
