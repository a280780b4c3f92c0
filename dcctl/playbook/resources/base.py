"""What every resource shares: the read/plan interface and a safe way to write a file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from dcctl.model.command import Command
from dcctl.playbook.model import Outcome
from dcctl.probes.base import Output

#: Writes a file from an argument, never from shell text: ``sh -c SCRIPT sh CONTENT PATH``.
_WRITE = 'printf "%s" "$1" > "$2"'


class Resource(Protocol):
    """A desired state of one thing on a host."""

    def label(self) -> str:
        """Short name shown in plans: ``sysctl net.core.rmem_max``."""

    def reads(self) -> dict[str, Command]:
        """Read-only commands whose outputs ``plan`` compares with the desired state."""

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """The change needed (or why none is), from the read outputs."""


def write_file(path: str, content: str) -> Command:
    """A command that writes ``content`` to ``path`` in place (mode and owner are kept).

    Both travel as arguments: newlines, ``$(…)`` and quotes reach the file literally.
    """
    return Command.of(["sh", "-c", _WRITE, "sh", content, path])


def file_text(output: Output | None) -> str | None:
    """A file's content from ``cat`` output, or None when it does not exist."""
    if output is None or output.rc != 0:
        return None
    return output.text
