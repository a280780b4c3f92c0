"""Faults during apply, with real processes: Ctrl-C, a second Ctrl-C, SIGKILL, a second apply
from elsewhere, a corrupt journal, a full disk. Afterwards every change has run exactly once.

Each change of the playbook appends its number to a log on the host, then marks itself done
(``creates``), so a change that ran twice shows twice in the log. The faults that involve the
host's side run twice: on the local transport and on a real sshd host on loopback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.playbook.lock import inventory_lock
from dcctl.transport.hostkeys import host_id
from tests.sshd_harness import SshServer, new_key, sshd_available

CHANGES = 4


_SSH: dict[str, object] = {}


@pytest.fixture(params=["local", "ssh"])
def transport(request, tmp_path_factory):
    """The host's transport; for ssh, a real sshd on loopback (root, key in a HOME of its own)."""
    if request.param == "local":
        yield "local"
        return
    reason = sshd_available()
    if reason is not None and not os.environ.get("CI"):
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("sshd")
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    client = new_key(home / ".ssh" / "id_ed25519")
    server = SshServer("h", "127.0.0.51", root / "h", [f"ssh-ed25519 {client.get_base64()}"])
    server.start()
    (home / ".ssh" / "known_hosts").write_text(
        f"{host_id(server.address, server.port)} ssh-ed25519 {server.host_key.get_base64()}\n"
    )
    _SSH.update(home=home, server=server)
    yield "ssh"
    server.stop()
    _SSH.clear()


def write_site(
    root: Path, seconds: float = 0.8, padding: int = 0, transport: str = "local"
) -> dict[str, Path]:
    work = root / "host"
    work.mkdir()
    inventory = root / "inventory.yaml"
    if transport == "local":
        inventory.write_text("hosts:\n  - {name: here, transport: local}\n")
    else:
        server, home = _SSH["server"], _SSH["home"]
        inventory.write_text(
            f"hosts:\n  - {{name: here, address: {server.address}, ssh: {{port: {server.port}, "
            f"user: root, identity_file: {home}/.ssh/id_ed25519}}}}\n"
        )
    resources = "".join(
        f"  - {{type: command, argv: [sh, -c, 'echo {i} >> {work}/log; sleep {seconds}; "
        f"touch {work}/done-{i}', sh, '{'p' * padding}'], creates: {work}/done-{i}}}\n"
        for i in range(1, CHANGES + 1)
    )
    playbook = root / "site.yaml"
    playbook.write_text(f"name: slow\nhosts: here\nresources:\n{resources}")
    return {"inventory": inventory, "playbook": playbook, "work": work, "state": root / "state"}


def dcctl(site: dict[str, Path], *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "DCCTL_STATE_DIR": str(site["state"]), "PYTHONUNBUFFERED": "1"}
    if _SSH:
        env["HOME"] = str(_SSH["home"])
        env.pop("SSH_AUTH_SOCK", None)
    return subprocess.Popen(
        [sys.executable, "-m", "dcctl", "-i", str(site["inventory"]), "apply",
         str(site["playbook"]), "--yes", "--no-health-gate", *args],
        cwd=cwd or site["inventory"].parent, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def log_of(site: dict[str, Path]) -> list[int]:
    path = site["work"] / "log"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def wait_for_log(site: dict[str, Path], count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(log_of(site)) < count:
        assert time.monotonic() < deadline, f"no change started: {log_of(site)}"
        time.sleep(0.02)


def journal_events(site: dict[str, Path]) -> list[dict[str, object]]:
    (path,) = sorted((site["state"] / "runs").glob("*.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_id(site: dict[str, Path]) -> str:
    (path,) = sorted((site["state"] / "runs").glob("*.jsonl"))
    return path.stem


def test_ctrl_c_finishes_the_change_in_flight_and_holds_the_lock_until_then(tmp_path, transport):
    site = write_site(tmp_path, seconds=1.5, transport=transport)
    first = dcctl(site)
    wait_for_log(site, 1)  # change 1 is in flight
    started = time.monotonic()
    first.send_signal(signal.SIGINT)
    second = dcctl(site)  # right away: the first still holds the lock
    _, err2 = second.communicate(timeout=30)
    assert second.returncode == 4, err2
    assert "locked by dcctl apply pid" in err2
    _, err1 = first.communicate(timeout=30)
    assert first.returncode == 130, err1
    assert time.monotonic() - started < 3.5  # the change in flight (≤ 1.5 s) and no more
    assert "Traceback" not in err1 and "interrupted" in err1
    assert log_of(site) == [1]  # change 1 finished, change 2 never started
    assert (site["work"] / "done-1").exists()
    events = journal_events(site)
    assert any(e["event"] == "run_interrupted" for e in events)
    assert any(e["event"] == "host_interrupted" and e["applied"] == 1 for e in events)
    # Applying again finishes the rest; nothing runs twice.
    third = dcctl(site)
    _, err3 = third.communicate(timeout=60)
    assert third.returncode == 0, err3
    assert log_of(site) == [1, 2, 3, 4]


def test_a_second_ctrl_c_quits_at_once_without_a_traceback(tmp_path):
    site = write_site(tmp_path, seconds=5)
    proc = dcctl(site)
    wait_for_log(site, 1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert time.monotonic() - started < 1.0
    assert "Traceback" not in err and "quitting now" in err


def test_sigkill_then_resume_applies_every_change_once(tmp_path, transport):
    site = write_site(tmp_path, seconds=1.0, transport=transport)
    proc = dcctl(site)
    wait_for_log(site, 2)  # change 2 in flight
    proc.kill()
    proc.wait(timeout=10)
    # The kernel released the lock with the process: resume at once.
    resumed = dcctl(site, "--resume", run_id(site))
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    # Change 2 was cut short by the kill (its done-mark never written) and runs again: the only
    # repeat possible, and exactly the one a guard exists for. Nothing else repeats.
    assert sorted(set(log_of(site))) == [1, 2, 3, 4]
    assert log_of(site).count(1) == 1 and log_of(site).count(3) == 1
    assert log_of(site).count(4) == 1


def test_a_second_apply_from_another_directory_or_through_a_symlink_is_refused(tmp_path):
    site = write_site(tmp_path, seconds=0.1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "inv-link.yaml"
    link.symlink_to(site["inventory"])
    with inventory_lock(site["state"] / "locks", [str(link)]):
        for cwd in (elsewhere, tmp_path):
            proc = dcctl(site, cwd=cwd)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 4, err
    assert log_of(site) == []


def test_a_corrupt_journal_line_is_named_and_resume_goes_on(tmp_path):
    site = write_site(tmp_path, seconds=0.05)
    proc = dcctl(site)
    wait_for_log(site, 2)
    proc.kill()
    proc.wait(timeout=10)
    path = site["state"] / "runs" / f"{run_id(site)}.jsonl"
    lines = path.read_text().splitlines()
    lines.insert(1, '{"event": "host_done", "host": "her')  # a torn write in the middle
    path.write_text("\n".join(lines) + "\n" + '{"time": 1, "ev')  # and a truncated end
    resumed = dcctl(site, "--resume", run_id(site))
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert f"{path}:2: skipped a corrupt journal line" in err
    assert "Traceback" not in err
    assert sorted(set(log_of(site))) == [1, 2, 3, 4]


def test_resume_takes_a_run_id_and_refuses_another_playbook(tmp_path):
    site = write_site(tmp_path, seconds=0.05)
    runner = CliRunner()
    base = ["-i", str(site["inventory"]), "apply", str(site["playbook"]), "--yes",
            "--no-health-gate", "--state-dir", str(site["state"])]  # fmt: skip
    for bad in ("../../x", "/etc/passwd", "a/b"):
        result = runner.invoke(app, [*base, "--resume", bad])
        assert result.exit_code == 64 and "not a run id" in result.output
    assert runner.invoke(app, base).exit_code == 0
    rid = run_id(site)
    site["playbook"].write_text(site["playbook"].read_text().replace("name: slow", "name: other"))
    result = runner.invoke(app, [*base, "--resume", rid])
    assert result.exit_code == 64
    assert "another playbook" in result.output


@pytest.fixture()
def small_disk(tmp_path):
    """A 64 KiB tmpfs: the state directory fills up during the run."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, f"cannot mount a tmpfs for the full-disk test: {done.stderr}"
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_state_disk_stops_cleanly_and_resume_works_once_freed(
    tmp_path, transport, small_disk
):
    # Each change's journal event carries its command (~1.5 KB with the padding): one free
    # 4 KiB page holds the run's start and its first change or two, not all four.
    site = write_site(tmp_path, seconds=0.05, padding=1200, transport=transport)
    site["state"] = small_disk / "state"
    filler = small_disk / "filler"
    (small_disk / "state" / "runs").mkdir(parents=True)
    stat = os.statvfs(small_disk)
    filler.write_bytes(b"\0" * ((stat.f_bavail - 2) * stat.f_frsize))
    assert os.statvfs(small_disk).f_bavail == 2  # a page for the lock file, one for the journal
    proc = dcctl(site)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "No space left on device" in err
    assert "Traceback" not in err
    # Every host classified; no change started after the journal failed.
    assert "not finished" in err
    ran = log_of(site)
    assert 1 <= len(ran) < CHANGES and len(set(ran)) == len(ran)  # it failed mid-run
    filler.unlink()
    resumed = dcctl(site, "--resume", run_id(site))
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert sorted(set(log_of(site))) == [1, 2, 3, 4]
    assert all(log_of(site).count(i) == 1 for i in (1, 3, 4))
