"""Global options and what commands share: consoles, output format, the inventory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from dcctl.errors import InventoryError
from dcctl.inventory.loader import CheckResult, check_inventory, find_inventory, max_hosts_from
from dcctl.inventory.model import Inventory
from dcctl.render.console import make_console
from dcctl.render.diagnostics import render_text
from dcctl.render.output import Output
from dcctl.render.writers import WRITERS


@dataclass
class State:
    """Everything a command needs from the root options (``ctx.obj``)."""

    inventory_option: str | None = None
    output: str = "table"
    no_color: bool = False
    verbose: int = 0
    quiet: bool = False
    out: Console = field(default_factory=make_console)
    err: Console = field(default_factory=lambda: make_console(stderr=True))
    _checked: CheckResult | None = None

    @classmethod
    def create(
        cls,
        inventory: str | None,
        output: str,
        no_color: bool,
        verbose: int,
        quiet: bool,
    ) -> State:
        """Build the state and configure logging for -v/-q."""
        level = logging.WARNING
        if verbose == 1:
            level = logging.INFO
        elif verbose >= 2:
            level = logging.DEBUG
        if quiet:
            level = logging.ERROR
        logging.basicConfig(level=level, format="dcctl: %(levelname)s: %(message)s", force=True)
        # paramiko logs every refused channel or failed handshake at ERROR; dcctl reports those
        # itself, per host. Its own log shows with -vv.
        logging.getLogger("paramiko").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
        return cls(
            inventory_option=inventory,
            output=output,
            no_color=no_color,
            verbose=verbose,
            quiet=quiet,
            out=make_console(no_color=no_color),
            err=make_console(stderr=True, no_color=no_color),
        )

    @property
    def machine_output(self) -> bool:
        """True for output meant for programs (JSON, JSON lines, ...), not people."""
        return WRITERS[self.output].machine

    def emit(self, output: Output) -> None:
        """Render a command's result with the writer chosen by ``-o`` (the one output path)."""
        WRITERS[self.output].write(self.out, output)

    def inventory_path(self) -> str:
        """The inventory file to use (-i, else $DCCTL_INVENTORY, else ./inventory.yaml)."""
        return find_inventory(self.inventory_option)

    def inventory(self) -> Inventory:
        """Load the inventory once; warnings go to stderr, errors raise InventoryError."""
        if self._checked is None:
            self._checked = check_inventory(self.inventory_path(), max_hosts=max_hosts_from())
            if self._checked.inventory is not None and self._checked.warnings and not self.quiet:
                render_text(self.err, self._checked.warnings)
        if self._checked.inventory is None:
            raise InventoryError(self._checked.diagnostics)
        return self._checked.inventory

    def note(self, message: str) -> None:
        """An informational line on stderr, silenced by -q."""
        if not self.quiet:
            self.err.print(escape(message), soft_wrap=True)
