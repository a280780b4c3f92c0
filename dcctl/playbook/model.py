"""A plan as a value: per host, per resource, the change (before → after, reason, commands).

Dry-run and apply build the same Plan; dry-run prints it and stops. Secret values are masked
everywhere a plan is displayed or serialised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from dcctl.model.command import Command
from dcctl.model.secrets import mask, mask_data


@dataclass(frozen=True)
class Change:
    """What applying one resource on one host would do."""

    resource: str  # e.g. "sysctl net.core.rmem_max"
    before: str
    after: str
    reason: str
    commands: tuple[Command, ...]
    secrets: frozenset[str] = field(default_factory=frozenset)
    diff: str = ""  # a unified diff with before/after headers, for file contents

    def shown(self, text: str) -> str:
        """Text with every form of every secret value replaced by ``***``."""
        return mask(text, self.secrets)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, secrets masked."""
        return {
            "resource": self.resource,
            "before": self.shown(self.before),
            "after": self.shown(self.after),
            "reason": self.shown(self.reason),
            "diff": self.shown(self.diff),
            "commands": [self.shown(c.display()) for c in self.commands],
        }

    def fingerprint(self) -> str:
        """A digest of what this change is (resource, before, after, commands), secrets masked.

        Two reads of a host give the same fingerprint exactly when the same change would run:
        how a saved plan, or the plan a person confirmed, is told from the host's state now.
        """
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """One resource on one host: a change, or why none is needed."""

    resource: str
    change: Change | None
    ok_reason: str = ""  # "already 268435456" when no change is needed
    error: str | None = None  # why its state could not be read (then it is neither)
    #: Why the change that was planned (and seen) no longer matches the host: not applied.
    stale: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        if self.stale is not None:
            return {"resource": self.resource, "changed": False, "stale": self.stale}
        if self.error is not None:
            return {"resource": self.resource, "changed": False, "error": self.error}
        if self.change is None:
            return {"resource": self.resource, "changed": False, "reason": self.ok_reason}
        return {"changed": True, **self.change.to_dict()}


@dataclass
class HostPlan:
    """Every resource's outcome on one host, or why the host could not be planned."""

    host: str
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None

    @property
    def changes(self) -> list[Change]:
        """Only the outcomes that change something."""
        return [o.change for o in self.outcomes if o.change is not None]

    @property
    def stale(self) -> list[Outcome]:
        """Changes that were planned but no longer match the host."""
        return [o for o in self.outcomes if o.stale is not None]


@dataclass
class Plan:
    """A playbook's plan for a set of hosts."""

    playbook: str
    hosts: list[HostPlan] = field(default_factory=list)
    #: Every secret value of the playbook: masked in all the plan shows, whatever the resource.
    secrets: frozenset[str] = frozenset()

    def mask(self, text: str) -> str:
        """Text as it may be shown: every form of every secret replaced by ``***``."""
        return mask(text, self.secrets)

    @property
    def pending(self) -> int:
        """Number of changes pending."""
        return sum(len(h.changes) for h in self.hosts)

    @property
    def stale(self) -> int:
        """Planned changes that no longer match their host (a saved plan that aged)."""
        return sum(len(h.stale) for h in self.hosts)

    @property
    def failed(self) -> list[HostPlan]:
        """Hosts that could not be planned: unreachable, timed out, or a resource not read."""
        return [h for h in self.hosts if h.error]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, every string masked (the output boundary of a plan)."""
        raw = {
            "playbook": self.playbook,
            "pending": self.pending,
            "stale": self.stale,
            "failed": len(self.failed),
            "hosts": [
                {"host": h.host, "error": h.error, "resources": [o.to_dict() for o in h.outcomes]}
                for h in self.hosts
            ],
        }
        masked = mask_data(raw, self.secrets)
        assert isinstance(masked, dict)
        return masked
