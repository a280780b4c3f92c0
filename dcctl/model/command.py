"""Commands as data: an argv plus which parts are secret. Quoting happens here and only here."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dcctl.model.secrets import SECRET_MASK

__all__ = ["SECRET_MASK", "Command", "CommandResult"]


@dataclass(frozen=True, slots=True)
class Command:
    """A command to run on a host, as an argv; never a string built from user values."""

    argv: tuple[str, ...]
    secret: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(cls, argv: Sequence[str], secret: Iterable[int] = ()) -> Command:
        """Build from any sequence of arguments."""
        if not argv:
            raise ValueError("a command needs at least one argument")
        return cls(tuple(str(a) for a in argv), frozenset(secret))

    @classmethod
    def script(cls, text: str) -> Command:
        """A shell script of dcctl's own (never built from inventory or playbook values)."""
        return cls(("sh", "-c", text))

    def shell(self) -> str:
        """The argv quoted for a POSIX shell: the one place quoting happens."""
        return shlex.join(self.argv)

    def display(self) -> str:
        """For logs and output: quoted, with secret arguments shown as ``***``."""
        return shlex.join(SECRET_MASK if i in self.secret else a for i, a in enumerate(self.argv))

    def __str__(self) -> str:
        """Same as :meth:`display`, so a Command never prints a secret by accident."""
        return self.display()


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What running a command gave: exit status (None if it never finished) and output."""

    rc: int | None
    stdout: str
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True for exit status 0."""
        return self.rc == 0
