"""The fan-out pool (with fake transports) and the one-round-trip probe script (run locally)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time

from dcctl.model.command import Command, CommandResult
from dcctl.probes.base import Step
from dcctl.probes.gather import probe_host
from dcctl.probes.registry import PROBES
from dcctl.probes.script import build_script, parse_framed
from dcctl.transport.base import AuthError, HostKeyError, UnreachableError, timeout_wrapped
from dcctl.transport.fake import FakeTransport
from dcctl.transport.fanout import HostFinished, HostStarted, HostStatus, fan_out
from dcctl.transport.local import LocalTransport


def test_every_host_ends_in_exactly_one_state_and_events_pair_up():
    errors = {
        "h2": UnreachableError("no route"),
        "h3": AuthError("refused"),
        "h4": HostKeyError("changed"),
        "h5": RuntimeError("parser bug"),
    }
    events = []

    def work(host):
        if host in errors:
            raise errors[host]
        return host.upper()

    outcomes = fan_out(["h1", "h2", "h3", "h4", "h5"], work, forks=2, listener=events.append)
    assert [(o.host, o.status, o.value) for o in outcomes] == [
        ("h1", HostStatus.ok, "H1"),
        ("h2", HostStatus.unreachable, None),
        ("h3", HostStatus.failed, None),
        ("h4", HostStatus.failed, None),
        ("h5", HostStatus.failed, None),
    ]
    assert outcomes[4].error == "RuntimeError: parser bug"
    started = [e.host for e in events if isinstance(e, HostStarted)]
    finished = [e.outcome.host for e in events if isinstance(e, HostFinished)]
    assert sorted(started) == sorted(finished) == ["h1", "h2", "h3", "h4", "h5"]


def test_concurrency_is_bounded_by_forks():
    running, peak, lock = 0, 0, threading.Lock()

    def work(host):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return host

    fan_out([f"n{i}" for i in range(20)], work, forks=4)
    assert peak == 4


def test_a_stuck_host_does_not_hold_the_others_past_the_deadline():
    release = threading.Event()

    def work(host):
        if host == "stuck":
            release.wait(10)
        return host

    start = time.monotonic()
    outcomes = fan_out(["a", "stuck", "b"], work, forks=3, deadline_s=0.5)
    elapsed = time.monotonic() - start
    release.set()
    assert [o.status for o in outcomes] == [HostStatus.ok, HostStatus.timed_out, HostStatus.ok]
    assert "deadline" in outcomes[1].error and elapsed < 2


def test_result_can_carry_its_own_status():
    outcomes = fan_out(["a"], lambda h: "partial", status_of=lambda v: HostStatus.timed_out)
    assert outcomes[0].status is HostStatus.timed_out and outcomes[0].value == "partial"


# --------------------------------------------------------------------------- the script


def steps(*specs):
    return [
        Step(key, shell, re.compile("x"), timeout, fallback, guarded=timeout < 5)
        for key, shell, timeout, fallback in specs
    ]


def test_script_frames_outputs_runs_fallbacks_and_stops_hung_commands():
    chosen = steps(
        ("a", "echo alpha; echo beta >&2", 5, None),
        ("b", "printf 'no newline'; (exit 3)", 5, None),
        ("c", "false", 5, None),
        ("c2", "echo fallback ran", 5, "c"),
        ("d", "echo first", 5, None),
        ("d2", "echo must not run", 5, "d"),
        ("e", "printf partial; sleep 30", 1, None),  # guarded: the host's timeout stops it
        ("f", "echo 'DCCTL-0000000000000000 END f rc=0'; echo real", 5, None),
    )
    script, boundary = build_script(chosen, boundary="DCCTL-feedfacefeedface")
    start = time.monotonic()
    result = LocalTransport().run(Command.script(script), timeout=20)
    assert time.monotonic() - start < 8
    outputs = parse_framed(result.stdout, boundary, chosen)
    assert outputs["a"].text == "alpha\nbeta\n" and outputs["a"].rc == 0
    assert outputs["b"].text == "no newline" and outputs["b"].rc == 3
    assert outputs["c"].rc == 1 and outputs["c2"].text == "fallback ran\n"
    assert "d2" not in outputs
    assert outputs["e"].timed_out and outputs["e"].text == "partial"
    assert outputs["f"].text.endswith("real\n")  # a forged frame line is just text


def test_script_runs_guarded_steps_plainly_on_a_host_without_timeout(tmp_path):
    # A PATH with sh and printf but no ``timeout``: guarded chains run without it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "cat", "mktemp", "rm", "mkdir"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    chosen = steps(("a", "echo guarded", 1, None), ("b", "echo plain", 5, None))
    script, boundary = build_script(chosen, boundary="DCCTL-feedfacefeedface")
    result = subprocess.run(
        [str(bin_dir / "sh"), "-c", f"PATH={bin_dir}; {script}"], capture_output=True, text=True
    )
    outputs = parse_framed(result.stdout, boundary, chosen)
    assert outputs["a"].text == "guarded\n" and outputs["a"].rc == 0
    assert outputs["b"].text == "plain\n" and outputs["b"].rc == 0


def test_probe_host_marks_partial_results_timed_out():
    def answer(command: Command) -> CommandResult:
        script = command.argv[2]
        boundary = re.search(r"DCCTL-[0-9a-f]{16}", script).group(0)
        body = (
            f"{boundary} BEGIN sys.uname\nLinux n1 6.8.0 #1 SMP x86_64 GNU/Linux\n"
            f"{boundary} END sys.uname rc=0\n"
            f"{boundary} BEGIN gpu.query\n\n{boundary} END gpu.query rc=124\n"
        )
        return CommandResult(0, body)

    transport = FakeTransport("n1", {r"sh -c .*": answer})
    report = probe_host(transport, [PROBES["system"], PROBES["gpu"]])
    assert report.status is HostStatus.timed_out
    assert report.results["system"].kernel == "6.8.0"
    assert report.errors == ["timed out on the host: gpu.query"]
    assert len(transport.calls) == 1  # one round trip


def test_timeout_wrapping_quotes_once():
    text = timeout_wrapped(Command.of(["printf", "%s", "a b; $(x)"]), 5)
    assert text == (
        "set -- printf %s 'a b; $(x)'; if command -v timeout >/dev/null 2>&1; "
        'then exec timeout -k 2 5 "$@"; else exec "$@"; fi'
    )
    assert text.count("a b; $(x)") == 1  # the command is sent once, however long
    run = subprocess.run(["sh", "-c", text], capture_output=True, text=True, check=False)
    assert run.stdout == "a b; $(x)"
    assert Command.of(["mysql", "-p", "hunter2"], secret=[2]).display() == "mysql -p '***'"


def test_paramiko_loads_without_invoke_until_match_exec_needs_it():
    """invoke (~130 ms of start-up) is imported only when ~/.ssh/config's Match exec needs it."""
    import sys

    code = (
        "import sys, dcctl.transport.ssh, paramiko.config as c\n"
        "print(type(sys.modules['invoke']).__name__)\n"
        "print(c.invoke.run.__module__.split('.')[0])\n"
        "print(type(sys.modules['invoke']).__name__)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["_LazyModule", "invoke", "module"]
