"""Diagnostics: one problem found in an input file, with its file:line:column and field path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Loc:
    """A position in a source file; line and column count from 1."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        """``file:line:col``."""
        return f"{self.file}:{self.line}:{self.col}"


class Severity(StrEnum):
    """How bad a diagnostic is. Errors make an inventory unusable; warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: where it is, which field, and what is wrong."""

    severity: Severity
    message: str
    path: str = ""
    loc: Loc | None = None

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        """``file:line:col: path: message`` (warnings say so after the path)."""
        where = f"{self.loc}: " if self.loc else ""
        path = f"{self.path}: " if self.path else ""
        kind = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}{path}{kind}{self.message}"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready mapping."""
        return {
            "severity": self.severity.value,
            "file": self.loc.file if self.loc else None,
            "line": self.loc.line if self.loc else None,
            "column": self.loc.col if self.loc else None,
            "path": self.path,
            "message": self.message,
        }


@dataclass
class Diagnostics:
    """Collects every diagnostic of one pass, so a user sees all problems at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, loc: Loc | None, path: str, message: str) -> None:
        """Record an error."""
        self.items.append(Diagnostic(Severity.ERROR, message, path, loc))

    def warning(self, loc: Loc | None, path: str, message: str) -> None:
        """Record a warning."""
        self.items.append(Diagnostic(Severity.WARNING, message, path, loc))

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.items if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Only the warnings."""
        return [d for d in self.items if not d.is_error]

    def sorted(self) -> list[Diagnostic]:
        """Diagnostics in file/line order (those without location last)."""

        def key(d: Diagnostic) -> tuple[int, str, int, int]:
            if d.loc is None:
                return (1, "", 0, 0)
            return (0, d.loc.file, d.loc.line, d.loc.col)

        return sorted(self.items, key=key)


def did_you_mean(word: str, candidates: Iterable[str], prefix: str = "") -> str:
    """A `` (did you mean 'x'?)`` suffix for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{prefix}{matches[0]}'?)" if matches else ""
