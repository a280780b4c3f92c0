"""``--deadline`` bounds the process: hosts that answer nothing do not keep dcctl alive.

Three hosts accept TCP connections and never say a word (no SSH banner: a wedged sshd, a
half-dead switch port). With one fork and a 1 s deadline, the first is still connecting at the
deadline (timed out), the other two never got their turn (not started); the process exits
within about a second of the deadline although the first connection would wait 30 s more.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

from dcctl.transport.fanout import HostStatus, fan_out


def silent_listener() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)  # never answer, never close

    threading.Thread(target=accept, daemon=True).start()
    return server, int(server.getsockname()[1])


def test_probe_deadline_bounds_the_process(tmp_path):
    server, port = silent_listener()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "defaults:\n"
        f"  ssh: {{port: {port}, connect_timeout: 30, host_key_policy: accept-new}}\n"
        "hosts:\n"
        "  - {name: mute1, address: 127.0.0.1}\n"
        "  - {name: mute2, address: 127.0.0.1}\n"
        "  - {name: mute3, address: 127.0.0.1}\n"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("SSH_AUTH_SOCK", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dcctl", "-i", str(inventory), "-o", "json", "probe",
         "--deadline", "1", "--forks", "1"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    server.close()
    assert done.returncode == 3, done.stderr
    assert elapsed < 1.0 + 2.5, f"took {elapsed:.1f} s"  # start-up + deadline + ~1 s
    hosts = {h["host"]: h for h in json.loads(done.stdout)["hosts"]}
    assert hosts["mute1"]["status"] == "timed_out"
    assert hosts["mute1"]["errors"] == ["still running at the 1 s deadline"]
    assert {hosts[h]["status"] for h in ("mute2", "mute3")} == {"not_started"}
    assert hosts["mute2"]["errors"] == ["not started before the 1 s deadline"]
    assert "Traceback" not in done.stderr


def test_fan_out_tells_not_started_from_still_running():
    release = threading.Event()

    def work(host: str) -> str:
        release.wait(5)
        return host

    outcomes = fan_out(["a", "b", "c"], work, forks=1, deadline_s=0.2)
    release.set()
    assert [o.status for o in outcomes] == [
        HostStatus.timed_out,
        HostStatus.not_started,
        HostStatus.not_started,
    ]
