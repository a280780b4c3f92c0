"""A finding: something a probe showed that needs attention, with its severity and reason."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    """How urgent a finding is (ordered)."""

    info = 0
    warning = 1
    critical = 2


@dataclass(frozen=True)
class Finding:
    """One finding on one host: ``code`` is stable (for filters), ``message`` says why."""

    severity: Severity
    probe: str
    code: str
    message: str
    subject: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "severity": self.severity.name,
            "probe": self.probe,
            "code": self.code,
            "subject": self.subject,
            "message": self.message,
        }
