"""``dcctl top``: a live, fleet-wide GPU view; ``--once`` for scripts.

Keys (at a terminal): q quit, s next sort column, g hosts/GPUs, f filter (a --limit pattern,
Enter to apply, empty to clear). Not a terminal: one plain table per refresh (``top -b``).
Exit status of ``--once``: 0 every host read, 3 some host not (its row says why).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer

from dcctl.cli.state import State
from dcctl.errors import DcctlError, ExitCode, InputError
from dcctl.render.output import Output

if TYPE_CHECKING:
    from dcctl.inventory.model import Inventory
    from dcctl.survey.top import HostLive, PowerTotal

_SORTS = ("host", "util", "mem", "power", "temp", "status")


def top(
    ctx: typer.Context,
    limit: Annotated[
        str | None, typer.Option("-l", "--limit", metavar="PATTERN", help="Host selection.")
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, metavar="S", help="Seconds between refreshes.")
    ] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="One snapshot, then exit.")] = False,
    gpus: Annotated[bool, typer.Option("--gpus", help="A row per GPU.")] = False,
    sort: Annotated[
        str, typer.Option("--sort", metavar="COLUMN", help="host, util, mem, power, temp, status.")
    ] = "host",
    forks: Annotated[int, typer.Option("-f", "--forks", min=1, help="Hosts at once.")] = 64,
    iterations: Annotated[
        int | None,
        typer.Option("-n", "--iterations", min=1, metavar="N", help="Stop after N refreshes."),
    ] = None,
) -> None:
    """The fleet's GPUs live: use, memory, power against caps, heat, held clocks, top process."""
    from dcctl.survey.top import power_totals, snapshot

    state: State = ctx.obj
    if sort not in _SORTS:
        raise InputError(f"--sort '{sort}': one of {', '.join(_SORTS)}")
    inventory = state.inventory()
    hosts = list(inventory.select(limit))
    if once:
        fleet = _sorted(snapshot(inventory, hosts, forks=forks), sort)
        totals = power_totals(inventory, fleet)
        _emit_once(state, fleet, totals, gpus)
        if any(h.status != "ok" for h in fleet):
            raise typer.Exit(int(ExitCode.HOSTS_FAILED))
        return
    _live(state, inventory, hosts, interval, gpus, sort, iterations)


def _sorted(fleet: list[HostLive], sort: str) -> list[HostLive]:
    from dcctl.survey.top import SORT_KEYS

    return sorted(fleet, key=lambda h: (SORT_KEYS[sort](h), h.host))


def _emit_once(state: State, fleet: list[HostLive], totals: list[PowerTotal], gpus: bool) -> None:
    from dcctl.render.top import top_view

    state.emit(
        Output(
            "top",
            lambda: {"hosts": [h.to_dict() for h in fleet],
                     "power": [t.to_dict() for t in totals]},
            lambda console: console.print(top_view(fleet, totals, gpus)),
            records=lambda: (h.to_dict() for h in fleet),
            record_kind="top.host",
        )
    )  # fmt: skip


class _Keys:
    """Single keys from the terminal (cbreak mode, restored on exit); a filter line after f."""

    def __init__(self) -> None:
        self.pressed: list[str] = []
        self.lock = threading.Lock()
        self.saved: object = None

    def __enter__(self) -> _Keys:
        import termios
        import tty

        fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        threading.Thread(target=self._read, daemon=True, name="dcctl-keys").start()
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.saved)  # type: ignore[arg-type]

    def _read(self) -> None:
        import os

        while True:
            try:
                data = os.read(sys.stdin.fileno(), 32)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.pressed += list(data.decode(errors="ignore"))

    def take(self) -> list[str]:
        """Keys pressed since the last call."""
        with self.lock:
            keys, self.pressed = self.pressed, []
        return keys


def _live(
    state: State,
    inventory: Inventory,
    hosts: list[str],
    interval: float,
    gpus: bool,
    sort: str,
    iterations: int | None,
) -> None:
    from rich.live import Live

    from dcctl.render.top import top_view
    from dcctl.survey.top import LiveFleet, power_totals

    fleet = LiveFleet(inventory, hosts, interval).start()
    terminal = state.out.is_terminal and sys.stdin.isatty()
    shown: set[str] | None = None
    typing: str | None = None
    message = ""
    count = 0
    try:
        if not terminal:  # plain: a snapshot per refresh, like top -b
            while iterations is None or count < iterations:
                time.sleep(interval)
                count += 1
                view = _sorted(fleet.view(), sort)
                state.out.print(top_view(view, power_totals(inventory, view), gpus))
                state.out.print("")
            return
        with _Keys() as keys, Live(console=state.out, auto_refresh=False, screen=True) as live:
            next_at = 0.0
            while iterations is None or count < iterations:
                for key in keys.take():
                    if typing is not None:
                        if key in ("\n", "\r"):
                            try:
                                shown = set(inventory.select(typing)) if typing.strip() else None
                                message = f"filter: {typing}" if shown else ""
                            except DcctlError as exc:
                                message = str(exc)
                            typing = None
                        elif key in ("\x7f", "\b"):
                            typing = typing[:-1]
                        elif key == "\x1b":
                            typing = None
                        else:
                            typing += key
                    elif key == "q":
                        return
                    elif key == "s":
                        sort = _SORTS[(_SORTS.index(sort) + 1) % len(_SORTS)]
                    elif key == "g":
                        gpus = not gpus
                    elif key == "f":
                        typing = ""
                    next_at = 0.0
                now = time.monotonic()
                if now >= next_at:
                    view = _sorted(fleet.view(), sort)
                    if shown is not None:
                        view = [h for h in view if h.host in shown]
                    prompt = f"filter> {typing}_" if typing is not None else message
                    footer = (f"{len(view)} host(s) · sort {sort} · every {interval:g} s · "
                              f"q quit  s sort  g GPUs  f filter   {prompt}")  # fmt: skip
                    live.update(top_view(view, power_totals(inventory, view), gpus, footer),
                                refresh=True)  # fmt: skip
                    next_at = now + interval
                    count += 1
                time.sleep(0.05)
    finally:
        fleet.close()
