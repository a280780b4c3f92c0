"""The transport interface and the errors that classify a host's outcome."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from dcctl.errors import TransportError
from dcctl.model.command import Command, CommandResult
from dcctl.transport.target import Target

if TYPE_CHECKING:
    from dcctl.transport.ssh import SshContext


class UnreachableError(TransportError):
    """No session could be set up: refused, no route, name not found, connect timed out."""


class AuthError(TransportError):
    """The host answered but refused every credential we have."""


class HostKeyError(TransportError):
    """The host key is unknown under ``strict``, or it changed (always refused)."""


class CommandTimeout(TransportError):
    """A command ran past its time limit and was stopped."""


@runtime_checkable
class Transport(Protocol):
    """How dcctl talks to one host. Implementations: local, ssh, fake."""

    host: str

    def connect(self) -> None:
        """Open the session (raises UnreachableError, AuthError or HostKeyError)."""

    def run(self, command: Command, *, timeout: float | None = None) -> CommandResult:
        """Run a command; a command past ``timeout`` is killed and reported timed out."""

    def put(self, local: Path, remote: str) -> None:
        """Copy a local file to the host."""

    def get(self, remote: str, local: Path) -> None:
        """Copy a file from the host."""

    def close(self) -> None:
        """Release the session (safe to call twice)."""


def timeout_wrapped(command: Command, timeout: float | None, kill_after: float = 2.0) -> str:
    """The shell text that runs ``command`` on a host under ``timeout -k`` when one is set.

    The host kills the command itself, so a hung command cannot outlive its limit even when
    our side has already given up. Hosts without coreutils' ``timeout`` run it unwrapped.
    """
    text = command.shell()
    if timeout is None:
        return text
    limit = max(1, round(timeout))
    # The argv is written once (``set --``), then run under timeout or without it: a probe script
    # of 11 KB is sent once, not twice.
    return (
        f"set -- {text}; if command -v timeout >/dev/null 2>&1; "
        f'then exec timeout -k {kill_after:g} {limit} "$@"; else exec "$@"; fi'
    )


#: Builds a transport to a target; the SSH context is what every connection of a run shares.
TransportFactory = Callable[[Target, "SshContext"], Transport]
_FACTORIES: dict[str, TransportFactory] = {}


def register_transport(name: str, factory: TransportFactory) -> None:
    """Declare a transport (once, in its own module). A second one of a name is a bug."""
    if name in _FACTORIES:
        raise ValueError(f"transport '{name}' is registered twice")
    _FACTORIES[name] = factory


def registered_factories() -> dict[str, TransportFactory]:
    """Every registered transport factory by name, in registration order."""
    return dict(_FACTORIES)
