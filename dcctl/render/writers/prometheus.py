"""``-o prometheus``: the Prometheus text exposition format (node_exporter's textfile collector).

``# HELP`` and ``# TYPE`` per family, one line per sample; label values escaped as the format
asks (backslash, double quote, newline). :func:`write_textfile` writes a ``.prom`` file
atomically (a temporary file in the same directory, then a rename), as the collector requires.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from dcctl.errors import InputError
from dcctl.model.monitoring import Metric
from dcctl.render.output import Output
from dcctl.render.writers.base import register
from dcctl.source.files import write_atomically


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    if value != value:
        return "NaN"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def exposition(metrics: list[Metric]) -> str:
    """The text format of every family (families with no sample are left out)."""
    lines = []
    for metric in metrics:
        if not metric.samples:
            continue
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.type}")
        for labels, value in metric.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{metric.name}{{{text}}} {_value(value)}" if text
                         else f"{metric.name} {_value(value)}")  # fmt: skip
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, metrics: list[Metric]) -> None:
    """Write the metrics to ``path`` atomically (the collector never sees half a file)."""
    if path.suffix != ".prom":
        raise InputError(f"{path}: node_exporter's textfile collector reads only *.prom files")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"{path}: no such directory {directory}")
    write_atomically(path, exposition(metrics), mode=0o644)


class PrometheusWriter:
    """The metrics, on stdout."""

    name = "prometheus"
    help = "Prometheus text format (health)"
    machine = True

    def write(self, console: Console, output: Output) -> None:
        """The exposition text, bypassing Rich markup."""
        if output.metrics is None:
            raise InputError(f"-o prometheus: {output.kind} has no metrics")
        console.file.write(exposition(output.metrics()))
        console.file.flush()


register(PrometheusWriter())
