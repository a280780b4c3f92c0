"""What monitoring systems read, as plain values: a check's status line and metric families.

A command that judges something (``dcctl health``) describes its result with a :class:`Status`
(Nagios/Icinga plugins) and :class:`Metric` families (Prometheus); the writers in
``dcctl.render.writers`` turn them into each system's format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Nagios plugin states, in order of exit code.
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


@dataclass(frozen=True)
class PerfData:
    """One Nagios performance datum: ``label=value[UOM];warn;crit;min;max``."""

    label: str
    value: float
    warn: float | None = None
    crit: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Status:
    """A check's verdict: state (OK, WARNING, CRITICAL, UNKNOWN), one line of text, perfdata."""

    state: str
    summary: str
    perfdata: tuple[PerfData, ...] = ()
    details: tuple[str, ...] = ()  # further lines (Nagios "long text")

    @property
    def exit_code(self) -> int:
        """The plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
        return STATES.index(self.state)


@dataclass
class Metric:
    """One metric family: name, help, type (gauge or counter) and its samples."""

    name: str
    help: str
    type: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float | int | bool | None, **labels: str) -> None:
        """Add a sample (None is skipped: an unknown value is absent, never 0)."""
        if value is None:
            return
        self.samples.append((labels, float(value)))
