"""How ``validate`` and ``inventory validate`` report checked files: one place, one shape."""

from __future__ import annotations

import os
from enum import StrEnum

import typer
from rich.markup import escape

from dcctl.cli.state import State
from dcctl.errors import ExitCode
from dcctl.render.diagnostics import render_github, render_text, summary_line
from dcctl.render.output import Output
from dcctl.render.writers import WRITERS
from dcctl.validate.files import FileCheck


class ValidateFormat(StrEnum):
    """How validate reports problems."""

    text = "text"
    github = "github"
    json = "json"


def _record(check: FileCheck) -> dict[str, object]:
    return {
        "path": check.path,
        "kind": check.kind,
        "valid": not check.errors,
        "errors": len(check.errors),
        "warnings": len(check.warnings),
        "hosts": check.hosts,
        "files": check.files,
        "diagnostics": [d.to_dict() for d in check.diagnostics],
    }


def report_checks(
    state: State,
    checks: list[FileCheck],
    fmt: ValidateFormat | None,
    strict: bool,
    *,
    name_kind: bool = True,
) -> None:
    """Print every problem and a summary per file; exit 64 on any error (or warning if strict).

    Format: as asked, else GitHub annotations under ``GITHUB_ACTIONS=true``, else JSON when
    ``-o json|jsonl``, else text. ``name_kind`` puts the file's kind in its summary line.
    """
    if fmt is None:
        if os.environ.get("GITHUB_ACTIONS") == "true":
            fmt = ValidateFormat.github
        elif state.machine_output:
            fmt = ValidateFormat.json
        else:
            fmt = ValidateFormat.text
    if fmt is ValidateFormat.json:
        records = [_record(c) for c in checks]
        document = {
            "valid": not any(c.errors for c in checks),
            "errors": sum(len(c.errors) for c in checks),
            "warnings": sum(len(c.warnings) for c in checks),
            "files": records,
        }
        # One shape for one file or many; -o jsonl gives one line per file instead.
        writer = "jsonl" if state.output == "jsonl" else "json"
        WRITERS[writer].write(
            state.out,
            Output("validate", lambda: document, lambda _console: None,
                   records=lambda: records, record_kind="validate.file"),
        )  # fmt: skip
    else:
        for check in checks:
            if fmt is ValidateFormat.github:
                render_github(state.out, check.diagnostics)
            else:
                render_text(state.out, check.diagnostics)
            if not state.quiet or check.errors:
                what = check.detail
                if name_kind and check.kind:
                    what = f"{check.kind}, {check.detail}" if check.detail else check.kind
                line = summary_line(check.path, check.diagnostics, what)
                style = "red" if check.errors else "green"
                state.out.print(f"[{style}]{escape(line)}[/{style}]", soft_wrap=True)
    if any(c.errors or (strict and c.warnings) for c in checks):
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
