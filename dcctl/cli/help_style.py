"""Help that reads like a Unix tool's: ``-v, --verbose``, ``--forks N``, ``PLAYBOOK``.

Typer 0.29 shows every parameter's Python type (``<bool>`` beside a flag, ``<int range>``) and
wraps required arguments in braces (``{PLAYBOOK}``). These two hooks on its parameter classes
keep its Rich layout and change only those labels: flags and counters show none, values show a
conventional metavar (N, NUMBER, TEXT, PATH, a|b), arguments show their name alone.
"""

from __future__ import annotations

from typing import Any

import typer.core

_LABELS = {"int": "N", "float": "NUMBER", "str": "TEXT", "path": "PATH", "file": "PATH",
           "directory": "DIR", "bool": ""}  # fmt: skip


def _option_type(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return str(self.metavar)
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    label = str(_ORIGINAL_OPTION_TYPE(self, ctx) or "").strip("<>").replace(" range", "")
    dots = label.endswith("...")
    label = label.removesuffix("...")
    if label.startswith("list[") and label.endswith("]"):
        label, dots = label[5:-1], True
    text = _LABELS.get(label, label)
    return (text + ("..." if dots else "")) or None


def _argument_type(self: Any, ctx: Any) -> str | None:
    return None  # the name says it (PLAYBOOK, FILE...); a type beside it is noise


def _argument_usage(self: Any) -> str:
    name = str(self.display_name_raw)
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if self.required else f"[{name}]"


_ORIGINAL_OPTION_TYPE = typer.core.TyperOption.display_type_rich


def install() -> None:
    """Apply the labels (idempotent); called once when the CLI is imported."""
    typer.core.TyperOption.display_type_rich = _option_type  # type: ignore[method-assign]
    typer.core.TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign]
    typer.core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
