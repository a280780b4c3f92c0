"""``dcctl inventory``: validate, list, show and tree."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from dcctl.cli.state import State
from dcctl.errors import ExitCode, SelectionError
from dcctl.inventory.loader import CheckResult, check_inventory, max_hosts_from
from dcctl.inventory.views import host_record, host_settings, power_tree
from dcctl.render.diagnostics import render_github, render_text, summary_line
from dcctl.render.inventory import render_host_settings, render_host_table, render_power_tree
from dcctl.render.output import Output
from dcctl.render.writers import WRITERS
from dcctl.source.diagnostics import did_you_mean

app = typer.Typer(
    name="inventory",
    help="Check and explore the inventory: hosts, groups, racks, power.",
    no_args_is_help=True,
)


class ValidateFormat(StrEnum):
    """How validate reports problems."""

    text = "text"
    github = "github"
    json = "json"


def _summary_detail(result: CheckResult) -> str:
    inv = result.inventory
    if inv is None:
        return ""
    parts = [
        f"{len(inv.hosts)} hosts",
        f"{len(inv.groups)} groups",
        f"{len(inv.racks)} racks",
        f"{len(inv.pdus)} PDUs",
        f"{len(inv.feeds)} feeds",
    ]
    return ", ".join(parts)


def _result_json(result: CheckResult) -> dict[str, object]:
    return {
        "path": result.display,
        "kind": "inventory",
        "valid": not result.errors,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "hosts": len(result.inventory.hosts) if result.inventory else None,
        "files": list(result.inventory.files) if result.inventory else None,
        "diagnostics": [d.to_dict() for d in result.diagnostics],
    }


@app.command()
def validate(
    ctx: typer.Context,
    files: Annotated[
        list[str] | None,
        typer.Argument(metavar="[FILE]...", help="Inventory files (default: the -i inventory)."),
    ] = None,
    fmt: Annotated[
        ValidateFormat | None,
        typer.Option(
            "--format",
            help="text, github (annotations; the default when GITHUB_ACTIONS=true) or json.",
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
) -> None:
    """Check inventory files; exit 64 if any has an error (every error is reported at once)."""
    state: State = ctx.obj
    paths = files or [state.inventory_path()]
    max_hosts = max_hosts_from()
    results = [check_inventory(path, max_hosts=max_hosts) for path in paths]
    if fmt is None:
        if os.environ.get("GITHUB_ACTIONS") == "true":
            fmt = ValidateFormat.github
        elif state.machine_output:
            fmt = ValidateFormat.json
        else:
            fmt = ValidateFormat.text
    if fmt is ValidateFormat.json:
        records = [_result_json(r) for r in results]
        document = {
            "valid": not any(r.errors for r in results),
            "errors": sum(len(r.errors) for r in results),
            "warnings": sum(len(r.warnings) for r in results),
            "files": records,
        }
        # One shape for one file or many; -o jsonl gives one line per file instead.
        writer = "jsonl" if state.output == "jsonl" else "json"
        WRITERS[writer].write(
            state.out,
            Output(
                "validate",
                lambda: document,
                lambda _console: None,
                records=lambda: records,
                record_kind="validate.file",
            ),
        )
    else:
        for result in results:
            if fmt is ValidateFormat.github:
                render_github(state.out, result.diagnostics)
            else:
                render_text(state.out, result.diagnostics)
            if not state.quiet or result.errors:
                line = summary_line(result.display, result.diagnostics, _summary_detail(result))
                style = "red" if result.errors else "green"
                state.out.print(f"[{style}]{escape(line)}[/{style}]", soft_wrap=True)
    failed = any(r.errors or (strict and r.warnings) for r in results)
    if failed:
        raise typer.Exit(int(ExitCode.INVALID_INPUT))


@app.command("list")
def list_hosts(
    ctx: typer.Context,
    limit: Annotated[
        str | None,
        typer.Option(
            "-l", "--limit", metavar="PATTERN", help="Host selection, e.g. '@h100 - gpu005'."
        ),
    ] = None,
    fold: Annotated[bool, typer.Option("--fold", help="Print only the folded host set.")] = False,
) -> None:
    """List hosts with address, transport, profile, rack, PDU and groups."""
    state: State = ctx.obj
    inventory = state.inventory()
    selected = inventory.select(limit)
    if fold:
        state.emit(
            Output(
                "inventory.fold",
                lambda: {"hosts": str(selected), "count": len(selected)},
                lambda console: console.print(str(selected), markup=False, soft_wrap=True),
            )
        )
        return
    records = [host_record(inventory, inventory.hosts[name]) for name in selected]
    caption = None if state.quiet else f"{len(selected)} hosts: {selected}"
    state.emit(
        Output(
            "inventory.list",
            lambda: {"count": len(records), "hosts": records},
            lambda console: render_host_table(console, records, caption),
            records=lambda: records,
            record_kind="inventory.host",
        )
    )


@app.command()
def show(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Host name.")],
) -> None:
    """Every resolved setting of one host and where it came from (file:line)."""
    state: State = ctx.obj
    inventory = state.inventory()
    if host not in inventory.hosts:
        raise SelectionError(f"unknown host '{host}'{did_you_mean(host, inventory.hosts)}")
    rows = host_settings(inventory, inventory.hosts[host])
    state.emit(
        Output(
            "inventory.show",
            lambda: {"host": host, "settings": rows},
            lambda console: render_host_settings(console, host, rows),
            records=lambda: [{"host": host, **row} for row in rows],
            record_kind="inventory.setting",
        )
    )


@app.command()
def tree(ctx: typer.Context) -> None:
    """Site / room / row / rack / PDU / feed tree with nominal draw against budgets."""
    state: State = ctx.obj
    inventory = state.inventory()
    view = power_tree(inventory)
    state.emit(
        Output("inventory.tree", lambda: view, lambda console: render_power_tree(console, view))
    )
