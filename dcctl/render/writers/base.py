"""What an output writer is, and the registry every writer module adds itself to."""

from __future__ import annotations

from typing import Protocol

from rich.console import Console

from dcctl.render.output import Output


class Writer(Protocol):
    """Renders an :class:`Output` on a console; ``machine`` writers print no decoration."""

    name: str
    help: str
    machine: bool

    def write(self, console: Console, output: Output) -> None:
        """Render the output."""


_WRITERS: dict[str, Writer] = {}


def register(writer: Writer) -> Writer:
    """Declare a writer (once, in its own module); a second one of a name is a bug."""
    if writer.name in _WRITERS:
        raise ValueError(f"output writer '{writer.name}' is registered twice")
    _WRITERS[writer.name] = writer
    return writer


def registered() -> dict[str, Writer]:
    """Every registered writer by name, in registration order."""
    return dict(_WRITERS)
