"""``dcctl inventory``: validate, list, show and tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dcctl.cli.check_report import ValidateFormat, report_checks
from dcctl.cli.state import State
from dcctl.errors import InputError, SelectionError
from dcctl.inventory.loader import max_hosts_from
from dcctl.inventory.views import host_record, host_settings, power_tree
from dcctl.render.inventory import render_host_settings, render_host_table, render_power_tree
from dcctl.render.output import Output
from dcctl.source.diagnostics import did_you_mean
from dcctl.validate.files import check_file

app = typer.Typer(
    name="inventory",
    help="Check and explore the inventory: hosts, groups, racks, power.",
    no_args_is_help=True,
)


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
    checks = [check_file(Path(path), None, "inventory", max_hosts=max_hosts) for path in paths]
    report_checks(state, checks, fmt, strict, name_kind=False)


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


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-F",
            metavar="FORMAT",
            help="ansible, ssh-config, prometheus-sd, clustershell or hosts.",
        ),
    ],
    to: Annotated[
        Path | None,
        typer.Option("--to", metavar="FILE", help="Write here (atomically) instead of stdout."),
    ] = None,
    exporter_port: Annotated[
        int, typer.Option("--exporter-port", min=1, max=65535, help="prometheus-sd: the port.")
    ] = 9100,
) -> None:
    """The inventory for the tools a site already runs (Ansible, OpenSSH, Prometheus, ...)."""
    from dcctl.inventory.export import ExportOptions, export
    from dcctl.source.files import write_atomically

    state: State = ctx.obj
    text = export(state.inventory(), fmt, ExportOptions(exporter_port=exporter_port))
    if to is None:
        typer.echo(text, nl=False)
        return
    try:
        write_atomically(to, text, mode=0o644)  # read by other tools (Prometheus, Ansible)
    except OSError as exc:
        raise InputError(f"--to {to}: {exc.strerror or exc}") from None
    state.note(f"{to}: {fmt} export of {len(state.inventory().hosts)} host(s)")
