"""A finding: something a probe showed that needs attention, with its severity and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Severity(IntEnum):
    """How urgent a finding is (ordered)."""

    info = 0
    warning = 1
    critical = 2


class Action(StrEnum):
    """What to do about a finding, in the words of NVIDIA's catalogue and DCGM's health watch."""

    none = "none"
    monitor = "monitor"
    restart_application = "restart_application"
    reset_gpu = "reset_gpu"
    drain_and_reset = "drain_and_reset"
    reboot_node = "reboot_node"
    drain = "drain"
    inspect_hardware = "inspect_hardware"  # field diagnostics, RMA
    check_cabling = "check_cabling"
    update_software = "update_software"  # driver, firmware
    fix_configuration = "fix_configuration"


#: Actions that take the node out of service until done (a scheduler should drain it first).
DRAINING_ACTIONS = frozenset(
    {Action.reset_gpu, Action.drain_and_reset, Action.reboot_node, Action.drain,
     Action.inspect_hardware}
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One finding on one host: ``code`` is stable (for filters), ``message`` says why."""

    severity: Severity
    probe: str
    code: str
    message: str
    subject: str | None = None
    action: Action = Action.none
    source: str = ""  # where the rule comes from ("NVIDIA Xid catalogue", "DCGM health watch")
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "severity": self.severity.name,
            "probe": self.probe,
            "code": self.code,
            "subject": self.subject,
            "message": self.message,
            "action": self.action.value,
            "source": self.source,
            "evidence": self.evidence,
        }
