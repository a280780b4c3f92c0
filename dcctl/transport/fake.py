"""A scripted transport for unit tests: canned results by command, or failures on connect."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dcctl.model.command import Command, CommandResult
from dcctl.transport.base import register_transport

Responder = CommandResult | Callable[[Command], CommandResult]


@dataclass
class FakeTransport:
    """Answers commands from a script: exact shell text or regex → result (or a callable).

    ``connect_error`` makes connect() raise; ``calls`` records every command run.
    """

    host: str
    script: Mapping[str, Responder] = field(default_factory=dict)
    connect_error: Exception | None = None
    default: Responder = field(default_factory=lambda: CommandResult(127, "", "not scripted"))
    calls: list[Command] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    closed: bool = False

    def connect(self) -> None:
        """Raise the scripted error, if any."""
        if self.connect_error is not None:
            raise self.connect_error

    def run(self, command: Command, *, timeout: float | None = None) -> CommandResult:
        """The scripted answer for this command."""
        self.calls.append(command)
        text = command.shell()
        answer = self.script.get(text)
        if answer is None:
            for pattern, candidate in self.script.items():
                if re.fullmatch(pattern, text, flags=re.S):
                    answer = candidate
                    break
        answer = answer if answer is not None else self.default
        return answer(command) if callable(answer) else answer

    def put(self, local: Path, remote: str) -> None:
        """Store a file in memory."""
        self.files[remote] = Path(local).read_bytes()

    def get(self, remote: str, local: Path) -> None:
        """Write a stored file."""
        Path(local).write_bytes(self.files[remote])

    def close(self) -> None:
        """Mark closed."""
        self.closed = True


# Selectable by name like the others: a host that answers every command with rc 127
# ("not scripted"). Tests build their own FakeTransport with a script.
register_transport("fake", lambda target, _context: FakeTransport(target.name))
