"""``dcctl nodeset -f|-e|-c PATTERN...``: fold, expand, count host sets (ClusterShell's habit).

Node ranges need no inventory; ``@group`` and globs use the inventory's groups (``-i``). Several
patterns are one union; set algebra as in ``--limit``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dcctl.cli.state import State
from dcctl.errors import InputError, InventoryNotFoundError


def nodeset(
    ctx: typer.Context,
    patterns: Annotated[list[str], typer.Argument(metavar="PATTERN...", help="Host sets.")],
    fold: Annotated[bool, typer.Option("-f", "--fold", help="Print the folded set.")] = False,
    expand: Annotated[bool, typer.Option("-e", "--expand", help="Print every name.")] = False,
    count: Annotated[bool, typer.Option("-c", "--count", help="Print how many.")] = False,
    separator: Annotated[
        str, typer.Option("-S", "--separator", metavar="TEXT", help="Between names with -e.")
    ] = " ",
) -> None:
    """Fold, expand or count host sets, with the inventory's groups."""
    from dcctl.inventory.selection import evaluate_nodeset
    from dcctl.model.nodeset import NodeSet

    state: State = ctx.obj
    if sum((fold, expand, count)) != 1:
        raise InputError("give exactly one of -f (fold), -e (expand), -c (count)")
    needs_groups = any(c in p for p in patterns for c in "@*?")
    inventory = None
    if needs_groups:
        try:
            inventory = state.inventory()
        except InventoryNotFoundError:
            inventory = None
    result = NodeSet()
    for pattern in patterns:
        result = result | evaluate_nodeset(pattern, inventory)
    if count:
        typer.echo(str(len(result)))
    elif expand:
        typer.echo(separator.join(result.sorted))
    else:
        typer.echo(str(result))
