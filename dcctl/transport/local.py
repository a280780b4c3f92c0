"""The local transport: runs commands on this machine with subprocess."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from dcctl.errors import TransportError
from dcctl.model.command import Command, CommandResult
from dcctl.transport.base import register_transport
from dcctl.transport.stream import PipeStream


class CommandNotFound(TransportError):
    """The command to stream is not installed here."""


class LocalTransport:
    """Runs commands here, as argv (no shell unless the command is a script of ours)."""

    def __init__(self, host: str = "localhost") -> None:
        """A transport for the machine dcctl runs on."""
        self.host = host

    def connect(self) -> None:
        """Nothing to open."""

    def run(self, command: Command, *, timeout: float | None = None) -> CommandResult:
        """Run the argv; kill it (and its process group) past the timeout."""
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(command.argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            return CommandResult(127, "", f"{command.argv[0]}: command not found")
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            return CommandResult(
                None,
                out.decode(errors="replace"),
                err.decode(errors="replace"),
                time.monotonic() - start,
                timed_out=True,
            )
        return CommandResult(
            proc.returncode,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
            time.monotonic() - start,
        )

    def stream(self, command: Command) -> PipeStream:
        """Start a long-running command here; its stdout is read as lines arrive."""
        try:
            proc = subprocess.Popen(list(command.argv), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    start_new_session=True)  # fmt: skip
        except FileNotFoundError:
            raise CommandNotFound(f"{command.argv[0]}: command not found") from None
        return PipeStream(proc)

    def put(self, local: Path, remote: str) -> None:
        """Copy a file."""
        shutil.copyfile(local, remote)

    def get(self, remote: str, local: Path) -> None:
        """Copy a file."""
        shutil.copyfile(remote, local)

    def close(self) -> None:
        """Nothing to close."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    import os
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


register_transport("local", lambda target, _context: LocalTransport(target.name))
