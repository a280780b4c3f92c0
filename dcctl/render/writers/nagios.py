"""``-o nagios``: the monitoring-plugins convention, for NRPE and Icinga as they are.

One status line ``DCCTL CRITICAL - text|label=value;warn;crit;min;max ...``, then detail lines;
the command exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the command applies that exit code).
"""

from __future__ import annotations

from rich.console import Console

from dcctl.errors import InputError
from dcctl.model.monitoring import PerfData
from dcctl.render.output import Output
from dcctl.render.writers.base import register


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def perfdata_text(data: PerfData) -> str:
    """``label=value[UOM];warn;crit;min;max`` (the label quoted when it has spaces)."""
    label = f"'{data.label}'" if " " in data.label or "=" in data.label else data.label
    fields = [f"{_number(data.value)}{data.unit}", *map(_number, (data.warn, data.crit,
              data.minimum, data.maximum))]  # fmt: skip
    return f"{label}={';'.join(fields).rstrip(';')}"


class NagiosWriter:
    """The plugin's output."""

    name = "nagios"
    help = "a Nagios/Icinga plugin status line and exit code (health)"
    machine = True

    def write(self, console: Console, output: Output) -> None:
        """The status line, perfdata after '|', then the detail lines."""
        if output.status is None:
            raise InputError(f"-o nagios: {output.kind} has no status to report")
        status = output.status()
        line = f"DCCTL {status.state} - {status.summary.replace('|', '/')}"
        if status.perfdata:
            line += "|" + " ".join(perfdata_text(p) for p in status.perfdata)
        console.file.write(line + "\n")
        for detail in status.details:
            console.file.write(detail.replace("|", "/") + "\n")
        console.file.flush()


register(NagiosWriter())
