"""Benchmark: ``dcctl top``'s controller CPU per host per refresh, in steady state.

N real sshd hosts on loopback (tests/sshd_harness.py), each with the replaying nvidia-smi that
loops on ``-lms`` like the real one; the live fleet (``dcctl.survey.top.LiveFleet``, what
``dcctl top`` runs) watches them. After a warm-up (every host streaming), the controller
process's CPU time (every thread: readers, paramiko's transports) over a window is divided by
hosts × refreshes. Also: the key exchange paramiko negotiates with this OpenSSH.

Run by hand (root: sshd): ``.venv/bin/python benchmarks/top_cpu.py --hosts 50 --seconds 20``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from dcctl.inventory.loader import load_inventory  # noqa: E402
from dcctl.survey.top import LiveFleet  # noqa: E402
from dcctl.transport.hostkeys import host_id  # noqa: E402
from tests.sshd_harness import SshServer, new_key  # noqa: E402


def negotiated_kex(server: SshServer) -> str:
    """What paramiko and this sshd agree on: the first of the client's list the server offers."""
    import subprocess

    import paramiko

    config = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(server.root / "sshd_config")],
                            capture_output=True, text=True, check=False).stdout  # fmt: skip
    offered = next((line.split()[1].split(",") for line in config.splitlines()
                    if line.startswith("kexalgorithms ")), [])  # fmt: skip
    ours = paramiko.Transport._preferred_kex
    agreed = next((k for k in ours if k in offered), "none")
    return f"{agreed} (paramiko {paramiko.__version__} prefers {ours[0]})"


def main() -> None:
    """Start the hosts, watch them, print CPU per host per refresh."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--processes-every", type=int, default=10, help="0: no process query")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dcctl-top-bench-"))
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    client = new_key(home / ".ssh" / "id_ed25519")
    shared = root / "host_key"
    servers = [
        SshServer(f"h{i}", f"127.0.{1 + i // 250}.{2 + i % 250}", root / f"h{i}",
                  [f"ssh-ed25519 {client.get_base64()}"], shared_host_key=shared)
        for i in range(args.hosts)
    ]  # fmt: skip
    for server in servers:
        server.start()
    (home / ".ssh" / "known_hosts").write_text("".join(
        f"{host_id(s.address, s.port)} ssh-ed25519 {s.host_key.get_base64()}\n" for s in servers
    ))  # fmt: skip
    inventory = root / "inventory.yaml"
    inventory.write_text(textwrap.dedent(f"""\
        defaults:
          ssh: {{user: root, identity_file: {home}/.ssh/id_ed25519, connect_timeout: 20}}
        hosts:
        """) + "".join(f"  - {{name: {s.name}, address: {s.address}, ssh: {{port: {s.port}}}}}\n"
                       for s in servers))  # fmt: skip
    os.environ["HOME"] = str(home)
    os.environ.pop("SSH_AUTH_SOCK", None)
    inv = load_inventory(inventory)
    live = LiveFleet(
        inv, [s.name for s in servers], args.interval, processes_every=args.processes_every
    ).start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(h.status != "ok" for h in live.view()):
            time.sleep(0.5)
        ready = sum(1 for h in live.view() if h.status == "ok")
        time.sleep(2 * args.interval)  # past the connect and first samples
        cpu0, wall0 = time.process_time(), time.monotonic()
        stamps0 = {h.host: h.updated for h in live.view()}
        time.sleep(args.seconds)
        cpu1, wall1 = time.process_time(), time.monotonic()
        refreshes = (wall1 - wall0) / args.interval
        fresh = sum(1 for h in live.view() if h.updated != stamps0.get(h.host))
        kex = negotiated_kex(servers[0])
    finally:
        live.close()
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    per = 1000 * (cpu1 - cpu0) / (args.hosts * refreshes)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"hosts {args.hosts} (streaming {ready}, new samples in the window {fresh}), interval "
        f"{args.interval:g} s, window {wall1 - wall0:.1f} s ({refreshes:.1f} refreshes)"
    )
    print(f"controller CPU {cpu1 - cpu0:.2f} s: {per:.3f} ms per host per refresh")
    print(f"key exchange paramiko negotiated with this sshd: {kex}")


if __name__ == "__main__":
    main()
