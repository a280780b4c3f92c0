"""Rendering ``dcctl top``: hosts (or GPUs) as a table, then the power tree's totals."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dcctl.model.reasons import without_address
from dcctl.survey.top import HostLive, PowerTotal

_SHORT = {"hw_slowdown": "HW", "sw_thermal_slowdown": "SWT", "hw_thermal_slowdown": "HWT",
          "hw_power_brake_slowdown": "BRK", "sw_power_cap": "PWR"}  # fmt: skip


def _gib(mib: float | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _w(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _held(reasons: Sequence[str]) -> str:
    return ",".join(_SHORT.get(r, r) for r in reasons)


def fleet_table(hosts: Sequence[HostLive], gpus: bool = False) -> Table:
    """One row per host (or per GPU): use, memory, power against its cap, heat, held clocks."""
    table = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    table.add_column("HOST" if not gpus else "HOST/GPU", no_wrap=True)
    table.add_column("UTIL", justify="right", no_wrap=True)
    table.add_column("MEM GiB", justify="right", no_wrap=True)
    table.add_column("POWER W", justify="right", no_wrap=True)
    table.add_column("TEMP", justify="right", no_wrap=True)
    table.add_column("HELD", no_wrap=True)
    table.add_column("PROCESS / STATUS", overflow="ellipsis", no_wrap=True, max_width=28)
    for h in hosts:
        if h.status not in ("ok", "stale") or not h.gpus:
            why = Text(f"{h.status}: {without_address(h.error or '')}".rstrip(": "), style="red")
            table.add_row(escape(h.host), "", "", "", "", "", why)
            continue
        style = "yellow" if h.status == "stale" else ""
        if not gpus:
            used, total = h.total("mem_used"), h.total("mem_total")
            table.add_row(
                escape(f"{h.host} ({len(h.gpus)})"), _pct(h.util), f"{_gib(used)}/{_gib(total)}",
                f"{_w(h.total('power'))}/{_w(h.total('limit'))}",
                "-" if h.temp is None else f"{h.temp:.0f}C", _held(h.held_back),
                escape(h.error if h.status == "stale" and h.error else (h.process or "")),
                style=style,
            )  # fmt: skip
            continue
        for g in h.gpus:
            table.add_row(
                escape(f"{h.host}/{g.index}"), _pct(g.util),
                f"{_gib(g.mem_used)}/{_gib(g.mem_total)}", f"{_w(g.power)}/{_w(g.limit)}",
                "-" if g.temp is None else f"{g.temp:.0f}C", _held(g.held_back),
                escape(g.process or ""), style=style,
            )  # fmt: skip
    return table


def totals_table(totals: Sequence[PowerTotal]) -> Table:
    """Per rack, PDU and feed: measured draw against its budget."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("POWER", "DRAW kW", "BUDGET kW", "LOAD", "HOSTS"):
        table.add_column(column, no_wrap=True, justify="left" if column == "POWER" else "right")
    for t in totals:
        pct = None if not t.budget_w else 100.0 * t.draw_w / t.budget_w
        style = "" if pct is None else ("bold red" if pct > 100 else "yellow" if pct >= 80 else "")
        table.add_row(
            escape(f"{t.kind} {t.name}"), f"{t.draw_w / 1000:.1f}",
            "-" if t.budget_w is None else f"{t.budget_w / 1000:.1f}",
            "-" if pct is None else f"{pct:.0f}%", f"{t.hosts_known}/{t.hosts}", style=style,
        )  # fmt: skip
    return table


def top_view(
    hosts: Sequence[HostLive], totals: Sequence[PowerTotal], gpus: bool, footer: str = ""
) -> RenderableType:
    """The whole screen: a status line (keys, sort, filter), the table, the totals."""
    parts: list[RenderableType] = []
    if footer:  # first, like top's summary: a screen too short for every host still shows it
        parts += [Text(footer, style="dim", no_wrap=True, overflow="ellipsis")]
    parts += [fleet_table(hosts, gpus)]
    if totals:
        parts += [Text(""), totals_table(totals)]
    return Group(*parts)
