"""What every resource shares: the read/plan interface and a safe way to write a file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from dcctl.errors import PlaybookError
from dcctl.model.command import Command
from dcctl.playbook.model import Outcome
from dcctl.probes.base import Output

#: Writes a file from an argument, never from shell text: ``sh -c SCRIPT sh CONTENT PATH``.
#: Atomically: a temporary file beside the target (through a symlink, beside what it points
#: to), given the target's mode and owner (a new file: 0666 less the umask), then renamed over
#: it, so an interrupted write never leaves half a file.
_WRITE = (
    'dst=$(readlink -f -- "$2" 2>/dev/null) || dst=$2; [ -n "$dst" ] || dst=$2; '
    'tmp=$(mktemp -- "$dst.dcctl-XXXXXX") || exit 1; '
    'if printf "%s" "$1" > "$tmp"; then :; else rm -f -- "$tmp"; exit 1; fi; '
    'if [ -e "$dst" ]; then '
    'chmod --reference="$dst" -- "$tmp" 2>/dev/null; '
    'chown --reference="$dst" -- "$tmp" 2>/dev/null; '
    'else chmod "$(printf %o $((0666 & ~$(umask))))" -- "$tmp"; fi; '
    'mv -f -- "$tmp" "$dst" || { rm -f -- "$tmp"; exit 1; }'
)


class Resource(Protocol):
    """A desired state of one thing on a host."""

    @property
    def verifiable(self) -> bool:
        """True when reading the state back after a change proves it took effect."""

    def label(self) -> str:
        """Short name shown in plans: ``sysctl net.core.rmem_max``."""

    def reads(self) -> dict[str, Command]:
        """Read-only commands whose outputs ``plan`` compares with the desired state."""

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """The change needed (or why none is), from the read outputs.

        A pure function of ``self`` and ``outputs`` (the planner reuses the outcome for every
        host that read the same); never reads anything else.
        """


def write_file(path: str, content: str) -> Command:
    """A command that writes ``content`` to ``path`` atomically (mode and owner are kept).

    Both travel as arguments: newlines, ``$(…)`` and quotes reach the file literally.
    """
    return Command.of(["sh", "-c", _WRITE, "sh", content, path])


#: Exit status of :func:`read_file` when the file does not exist (any other failure is an error).
ABSENT_RC = 3
_READ = 'if [ -e "$1" ] || [ -L "$1" ]; then exec cat -- "$1"; else exit 3; fi'


def read_file(path: str) -> Command:
    """Read a file; exit status 3 says it does not exist, whatever the host's language."""
    return Command.of(["sh", "-c", _READ, "sh", path])


def file_text(output: Output | None, path: str = "the file") -> str | None:
    """A file's content from :func:`read_file`, None when it does not exist.

    Any other failure (permission denied, a read that timed out or never ran) is a
    PlaybookError: a file that could not be read is never "absent" or "as desired".
    """
    if output is None:
        raise PlaybookError(f"cannot read {path}: no output")
    if output.rc == ABSENT_RC:
        return None
    if output.rc != 0:
        raise PlaybookError(f"cannot read {path}: {read_failure(output)}")
    return output.text


def read_failure(output: Output) -> str:
    """Why a read failed, in one line (its last words, or its exit status)."""
    if output.timed_out:
        return "timed out on the host"
    lines = [line.strip() for line in output.text.strip().splitlines() if line.strip()]
    detail = lines[-1] if lines else "no output"
    return f"{detail} (exit status {output.rc})"
