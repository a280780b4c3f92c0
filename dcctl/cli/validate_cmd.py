"""``dcctl validate``: every kind of input file checked offline, for CI (no host contacted)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dcctl.cli.check_report import ValidateFormat, report_checks
from dcctl.cli.state import State
from dcctl.errors import ExitCode, InventoryNotFoundError
from dcctl.inventory.loader import check_inventory, find_inventory, max_hosts_from
from dcctl.inventory.model import Inventory
from dcctl.validate.files import KINDS, FileCheck, check_file


def _site(state: State) -> tuple[Inventory | None, FileCheck | None]:
    """The inventory other files are checked against, and its own check when it has errors."""
    try:
        path = find_inventory(state.inventory_option)
    except InventoryNotFoundError:
        return None, None
    result = check_inventory(path, max_hosts=max_hosts_from())
    if result.inventory is None:
        check = FileCheck(result.display, "inventory", result.diagnostics)
        return None, check
    return result.inventory, None


def validate(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Inventories, playbooks, jobs, allocations, class maps, workloads, health "
            "policies, baselines: each kind is recognised by its top-level keys.",
        ),
    ],
    fmt: Annotated[
        ValidateFormat | None,
        typer.Option(
            "--format",
            help="text, github (annotations; the default when GITHUB_ACTIONS=true) or json.",
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help=f"Check every FILE as this kind instead of recognising it: {', '.join(KINDS)}.",
        ),
    ] = None,
) -> None:
    """Check input files of any kind without contacting a host; exit 64 if any has an error.

    Files that refer to the site (playbook hosts and variables, jobs, allocations, class maps,
    policy host patterns) are checked against the inventory (-i, $DCCTL_INVENTORY or
    ./inventory.yaml) when there is one; jobs, allocations and class maps need it.
    """
    state: State = ctx.obj
    if kind is not None and kind not in KINDS:
        state.err.print(
            f"[red]error:[/red] --kind {escape(kind)!r}: one of {escape(', '.join(KINDS))}"
        )
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
    inventory, broken = _site(state)
    checks: list[FileCheck] = []
    if broken is not None:
        checks.append(broken)
    for path in files:
        if broken is not None and Path(broken.path).resolve() == path.resolve():
            continue
        checks.append(check_file(path, inventory, kind))
    report_checks(state, checks, fmt, strict)
