"""Rendering diagnostics for people (text), for GitHub Actions (annotations), and as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from dcctl.source.diagnostics import Diagnostic


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(display: str, diagnostics: Sequence[Diagnostic], detail: str = "") -> str:
    """``inventory.yaml: 2 errors, 1 warning`` or ``inventory.yaml: valid (17 hosts, ...)``."""
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if errors:
        return f"{display}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    extra = f", {_plural(warnings, 'warning')}" if warnings else ""
    return f"{display}: valid{f' ({detail})' if detail else ''}{extra}"


def render_text(console: Console, diagnostics: Sequence[Diagnostic]) -> None:
    """One ``file:line:col: path: message`` line per diagnostic, errors in red."""
    for d in diagnostics:
        style = "red" if d.is_error else "yellow"
        console.print(f"[{style}]{escape(str(d))}[/{style}]", soft_wrap=True)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(d: Diagnostic, title: str = "dcctl inventory") -> str:
    """A GitHub Actions workflow command: ``::error file=…,line=…,col=…::message``."""
    props = []
    if d.loc is not None:
        props += [
            f"file={_escape_property(d.loc.file)}",
            f"line={d.loc.line}",
            f"col={d.loc.col}",
        ]
    props.append(f"title={_escape_property(title)}")
    message = f"{d.path}: {d.message}" if d.path else d.message
    return f"::{d.severity.value} {','.join(props)}::{_escape_data(message)}"


def render_github(console: Console, diagnostics: Sequence[Diagnostic]) -> None:
    """Annotations, one per line, written without Rich processing."""
    for d in diagnostics:
        console.file.write(github_annotation(d) + "\n")
    console.file.flush()
