"""Long-running commands read as lines arrive (``nvidia-smi ... -lms N`` for ``dcctl top``).

A stream costs one channel for its whole life: a refresh reads what arrived, it opens nothing.
:meth:`LineStream.wait` sleeps until data or the end arrives (``select`` on the channel or
pipe), so an idle stream costs no CPU.
"""

from __future__ import annotations

import os
import select
import subprocess
from typing import Protocol

import paramiko


class LineStream(Protocol):
    """Lines of a running command, as they arrive."""

    def wait(self, timeout: float) -> None:
        """Sleep until something arrives, the command ends, or ``timeout`` s pass."""

    def read_lines(self) -> list[str]:
        """Complete lines that arrived since the last call (never blocks)."""

    @property
    def ended(self) -> bool:
        """The command ended (or the connection did) and every line was read."""

    def close(self) -> None:
        """Stop the command and release the channel (safe to call twice)."""


class _Lines:
    """Splits bytes into complete lines, keeping a partial last line for later."""

    def __init__(self) -> None:
        self.partial = b""

    def feed(self, data: bytes) -> list[str]:
        chunks = (self.partial + data).split(b"\n")
        self.partial = chunks.pop()
        return [c.decode(errors="replace").rstrip("\r") for c in chunks]


class ChannelStream:
    """A command on an SSH channel (``exec_command``; closed channel = ended)."""

    def __init__(self, channel: paramiko.Channel) -> None:
        """Read ``channel``'s stdout (stderr is drained and dropped)."""
        self.channel = channel
        self.lines = _Lines()

    def wait(self, timeout: float) -> None:
        """Select on the channel."""
        if not self.channel.recv_ready() and not self.channel.closed:
            select.select([self.channel], [], [], timeout)

    def read_lines(self) -> list[str]:
        """What arrived."""
        out: list[str] = []
        while self.channel.recv_ready():
            out += self.lines.feed(self.channel.recv(65536))
        while self.channel.recv_stderr_ready():
            self.channel.recv_stderr(65536)
        return out

    @property
    def ended(self) -> bool:
        """EOF or closed, and nothing left to read."""
        done = bool(self.channel.eof_received) or bool(self.channel.closed)
        return done and not self.channel.recv_ready()

    def close(self) -> None:
        """Close the channel (sshd then ends the command)."""
        self.channel.close()


class PipeStream:
    """A local command's stdout through a non-blocking pipe."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        """Read ``proc``'s stdout."""
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.lines = _Lines()
        self.eof = False

    def wait(self, timeout: float) -> None:
        """Select on the pipe."""
        if not self.eof:
            select.select([self.fd], [], [], timeout)

    def read_lines(self) -> list[str]:
        """What arrived."""
        out: list[str] = []
        while not self.eof:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not data:
                self.eof = True
                break
            out += self.lines.feed(data)
        return out

    @property
    def ended(self) -> bool:
        """The pipe reached EOF."""
        return self.eof

    def close(self) -> None:
        """Kill the command's process group."""
        if self.proc.poll() is None:
            import signal

            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
