"""A progress bar that subscribes to fan-out events (shown only on a terminal)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dcctl.playbook.events import Event as RolloutEvent
from dcctl.playbook.events import HostFinished as RolloutHostFinished
from dcctl.transport.fanout import Event, HostFinished, HostStatus


class ProgressDisplay:
    """Context manager and event listener: a bar of hosts done, with failures counted."""

    def __init__(self, console: Console, total: int, label: str) -> None:
        """Prepare a bar for ``total`` hosts; it stays silent off a terminal."""
        self.enabled = console.is_terminal
        self.failed = 0
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task(label, total=total, failed="")

    def __enter__(self) -> ProgressDisplay:
        """Start drawing."""
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop drawing."""
        if self.enabled:
            self.progress.stop()

    def __call__(self, event: Event) -> None:
        """Advance on each finished host."""
        if not isinstance(event, HostFinished):
            return
        if event.outcome.status is not HostStatus.ok:
            self.failed += 1
        failed = f"[red]{self.failed} not ok[/red]" if self.failed else ""
        self.progress.update(self.task, advance=1, failed=failed)


class RolloutProgress:
    """A rollout's progress bar (hosts finished, not ok counted): a handler of its events."""

    def __init__(self, console: Console, total: int) -> None:
        """Prepare a bar for ``total`` hosts; it stays silent off a terminal."""
        self.display = ProgressDisplay(console, total, "apply")

    def __enter__(self) -> RolloutProgress:
        """Start drawing."""
        self.display.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop drawing."""
        self.display.__exit__(exc_type, exc, tb)

    def __call__(self, event: RolloutEvent) -> str | None:
        """Advance on each host that ends (never stops the rollout)."""
        if isinstance(event, RolloutHostFinished) and self.display.enabled:
            if event.status != "done":
                self.display.failed += 1
            failed = f"[red]{self.display.failed} not ok[/red]" if self.display.failed else ""
            self.display.progress.update(self.display.task, advance=1, failed=failed)
        return None
