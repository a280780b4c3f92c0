"""Rich renderings of inventory views: host table, host settings, the power tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from dcctl.inventory.power import kw
from dcctl.render.columns import print_columns
from dcctl.render.console import new_table

#: Longer tables print as plain columns even at a terminal: a boxed table of thousands of rows
#: takes seconds to lay out and is read with a pager or grep anyway.
PLAIN_ROWS = 500


def _pct_style(pct: float | None) -> str:
    if pct is None:
        return ""
    if pct > 100:
        return "bold red"
    if pct >= 80:
        return "yellow"
    return "green"


def _load(nominal: float, budget: float | None, word: str = "budget") -> str:
    if budget is None:
        return f"{kw(nominal)} nominal"
    pct = 100.0 * nominal / budget
    style = _pct_style(pct)
    return f"{kw(nominal)} / {kw(budget)} {word} [{style}]({pct:.0f}%)[/{style}]"


def render_host_table(
    console: Console, records: Sequence[dict[str, Any]], caption: str | None
) -> None:
    """The ``inventory list`` table: boxed at a terminal, plain columns in a pipe or when long.

    Host and address are never cut (at 80 columns the other columns wrap instead).
    """
    headers = ("HOST", "ADDRESS", "TRANSPORT", "PROFILE", "RACK", "PDU", "GROUPS")
    if not console.is_terminal or len(records) > PLAIN_ROWS:
        rows = [
            (r["name"], r["address"], r["transport"], r["profile"] or "-", r["rack"] or "-",
             ",".join(r["pdus"]) or "-", ",".join(r["groups"]) or "-")
            for r in records
        ]  # fmt: skip
        print_columns(console, headers, rows)
        if caption:
            console.file.write(caption + "\n")
        return
    table = new_table(console, *headers)
    for column, key in zip(table.columns[:2], ("name", "address"), strict=True):
        column.no_wrap = True
        column.min_width = max((len(r[key]) for r in records), default=4)
    for r in records:
        table.add_row(
            escape(r["name"]),
            escape(r["address"]),
            r["transport"],
            escape(r["profile"] or "-"),
            escape(r["rack"] or "-"),
            escape(",".join(r["pdus"]) or "-"),
            escape(",".join(r["groups"]) or "-"),
        )
    if caption:
        table.caption = escape(caption)
    console.print(table)


def render_host_settings(console: Console, host: str, rows: Sequence[dict[str, Any]]) -> None:
    """The ``inventory show`` table: setting, value, where it came from."""
    table = new_table(console, "SETTING", "VALUE", "SOURCE", title=f"host {escape(host)}")
    for row in rows:
        value = row["value"]
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        source = row["source"]
        where = f"{source} ({row['origin']})" if source else row["origin"]
        table.add_row(escape(row["setting"]), escape(str(value)), escape(where))
    console.print(table)


def _rack_branch(parent: Tree, rack: dict[str, Any]) -> None:
    label = (
        f"[bold]rack {escape(rack['name'])}[/bold]  {_load(rack['nominal_w'], rack['budget_w'])}"
    )
    node = parent.add(label)
    for pdu in rack["pdus"]:
        node.add(
            f"pdu {escape(pdu['name'])} ← {escape(pdu['feed'])}  "
            f"{_load(pdu['nominal_w'], pdu['max_w'], 'rated')}  {escape(pdu['hosts'])}"
        )
    for group in rack["host_groups"]:
        each = f", {kw(group['nominal_w_each'])} each" if group["nominal_w_each"] else ""
        profile = escape(group["profile"] or "no profile")
        node.add(f"{escape(group['hosts'])}  {group['count']} × {profile}{each}")


def render_power_tree(console: Console, view: dict[str, Any]) -> None:
    """The ``inventory tree``: sites, feeds, rooms, rows, racks, PDUs with draw vs budget."""
    for site in view["sites"]:
        desc = f" ({escape(site['description'])})" if site["description"] else ""
        tree = Tree(
            f"[bold]site {escape(site['name'])}[/bold]{desc}  {kw(site['nominal_w'])} nominal"
        )
        if site["feeds"]:
            feeds = tree.add("[bold]power feeds[/bold]")
            for feed in site["feeds"]:
                panel = f"panel {escape(feed['panel'])}, " if feed["panel"] else ""
                feeds.add(
                    f"feed {escape(feed['name'])} ({panel}{escape(feed['formula'])})  "
                    f"{_load(feed['nominal_w'], feed['available_w'], 'available')}"
                )
        for room in site["rooms"]:
            room_node = tree.add(
                f"[bold]room {escape(room['name'])}[/bold]  {kw(room['nominal_w'])} nominal"
            )
            for row in room["rows"]:
                row_node = room_node.add(
                    f"[bold]row {escape(row['name'])}[/bold]  {kw(row['nominal_w'])} nominal"
                )
                for rack in row["racks"]:
                    _rack_branch(row_node, rack)
            for rack in room["racks"]:
                _rack_branch(room_node, rack)
        console.print(tree)
    if view["unplaced"]:
        console.print(f"not in any rack: {escape(view['unplaced'])}")
    if view["unknown_draw"]:
        unknown = escape(view["unknown_draw"])
        console.print(f"[yellow]draw unknown (no power figures in profile): {unknown}[/yellow]")
