"""The one error tree of dcctl and the exit-code policy it maps to.

Every error dcctl raises on purpose derives from :class:`DcctlError`. The CLI turns them into a
message and an exit code in exactly one place (``dcctl.cli.app``); library code never exits.
The policy is written down in ``docs/exit-codes.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from dcctl.source.diagnostics import Diagnostic


class ExitCode(IntEnum):
    """Process exit codes, one policy for every command (see docs/exit-codes.md)."""

    OK = 0
    FINDINGS = 1
    CHANGES_PENDING = 2
    HOSTS_FAILED = 3
    LOCKED = 4
    INVALID_INPUT = 64
    INTERNAL = 70
    INTERRUPTED = 130
    PIPE_CLOSED = 141


class DcctlError(Exception):
    """Root of every error dcctl raises deliberately."""

    exit_code: ExitCode = ExitCode.INVALID_INPUT


class InputError(DcctlError):
    """The user gave input dcctl cannot use: options, files, expressions."""

    exit_code = ExitCode.INVALID_INPUT


class InputFileError(InputError):
    """An input file (inventory, playbook, jobs file, ...) is invalid; carries every diagnostic.

    Each kind of file has its own subclass, whose :attr:`kind` names it in messages.
    """

    #: What kind of file this is, as people call it ("inventory", "playbook", ...).
    kind: ClassVar[str] = "input file"

    def __init__(self, diagnostics: Sequence[Diagnostic], message: str | None = None) -> None:
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        super().__init__(message or f"{self.kind} has {len(errors)} error(s)")


class InventoryError(InputFileError):
    """An inventory failed to load."""

    kind = "inventory"


class PlaybookFileError(InputFileError):
    """A playbook file is invalid (its YAML, fields or values)."""

    kind = "playbook"


class JobsFileError(InputFileError):
    """A jobs file for ``plan place`` is invalid."""

    kind = "jobs file"


class AllocationsFileError(InputFileError):
    """An allocations file for ``plan place`` is invalid."""

    kind = "allocations file"


class WorkloadsFileError(InputFileError):
    """A workloads file for ``plan capacity`` is invalid."""

    kind = "workloads file"


class PolicyFileError(InputFileError):
    """A health policy file for ``dcctl health --policy`` is invalid."""

    kind = "health policy"


class BaselineFileError(InputFileError):
    """A health baseline file is not one dcctl wrote (or is damaged)."""

    kind = "baseline"


class ClassMapError(InputFileError):
    """A workload class map for ``plan power`` is invalid."""

    kind = "class map"


class InventoryNotFoundError(InputError):
    """No inventory file could be found."""


class SelectionError(InputError):
    """A host selection expression (``--limit``) is malformed or names unknown things."""


class NodeSetError(InputError):
    """A node-range pattern such as ``gpu[001-128]`` is malformed or too large."""


class NodeSetTooLargeError(NodeSetError):
    """A node-range pattern expands to more names than the limit in force."""


class TransportError(DcctlError):
    """Reaching or talking to a host failed."""

    exit_code = ExitCode.HOSTS_FAILED


class ProbeError(DcctlError):
    """A probe could not run or its output could not be understood."""

    exit_code = ExitCode.FINDINGS


class PlanError(InputError):
    """A planning problem is malformed or infeasible."""


class SolverError(PlanError):
    """The solver failed or returned no usable answer."""


class PlaybookError(InputError):
    """A playbook is malformed or cannot be applied."""


class LockedError(DcctlError):
    """Another dcctl run holds the lock this run needs."""

    exit_code = ExitCode.LOCKED
