"""A site's health policy: per rule and host pattern, ignore a finding or change its rating.

```yaml
# dcctl health --policy site-health.yaml
rules:
  - rule: xid_13                 # a rule id, or a glob such as xid_* or nvlink_*
    hosts: "@inference"          # a --limit expression (default: every host)
    ignore: true                 # drop the finding there
  - rule: xid_94
    severity: critical           # warning | critical
    action: drain                # none, monitor, restart_application, reset_gpu, ...
    note: app-level ECC errors take a whole training job down here
```
The first entry whose rule and hosts match a finding applies; the finding's evidence records
which entry (file:line). Errors are located like every input file's.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from pathlib import Path

from dcctl.checks.findings import Action, Finding, Severity
from dcctl.checks.rules import rule_ids
from dcctl.errors import DcctlError, PolicyFileError
from dcctl.inventory.model import Inventory
from dcctl.source.diagnostics import Loc, did_you_mean
from dcctl.source.reader import Fields, read_document

_ENTRY_FIELDS = ("rule", "hosts", "ignore", "severity", "action", "note")


@dataclass(frozen=True)
class PolicyEntry:
    """One override: which rule(s), on which hosts, and what changes."""

    rule: str
    hosts: frozenset[str] | None  # None: every host
    hosts_text: str | None
    ignore: bool
    severity: Severity | None
    action: Action | None
    note: str | None
    loc: Loc

    def matches(self, rule: str, host: str) -> bool:
        """True when the entry applies to ``rule`` on ``host``."""
        return fnmatch.fnmatchcase(rule, self.rule) and (self.hosts is None or host in self.hosts)


@dataclass(frozen=True)
class HealthPolicy:
    """Every override of a policy file, in order."""

    entries: tuple[PolicyEntry, ...] = ()

    def apply(self, host: str, findings: list[Finding]) -> list[Finding]:
        """The findings as the site rates them (ignored ones left out)."""
        out = []
        for finding in findings:
            entry = next((e for e in self.entries if e.matches(finding.code, host)), None)
            if entry is None:
                out.append(finding)
                continue
            if entry.ignore:
                continue
            evidence = {**finding.evidence, "policy": str(entry.loc)}
            out.append(
                replace(
                    finding,
                    severity=entry.severity or finding.severity,
                    action=entry.action or finding.action,
                    evidence=evidence,
                )
            )
        return out

    def for_rule(self, rule: str) -> list[PolicyEntry]:
        """The entries that can apply to a rule (on some host)."""
        return [e for e in self.entries if fnmatch.fnmatchcase(rule, e.rule)]


def read_policy(path: Path, inventory: Inventory | None) -> HealthPolicy:
    """Parse and check a policy file; every problem is reported with file:line:column."""
    source, node, diags = read_document(path, PolicyFileError)
    root = Fields(source, node, "", diags, ("rules",), ("rules",))
    known = rule_ids()
    entries = []
    for i, item in enumerate(root.sequence("rules") or []):
        f = Fields(source, item, f"rules[{i}]", diags, _ENTRY_FIELDS, ("rule",))
        if not f.ok:
            continue
        rule = f.str("rule")
        matched = rule is None or any(fnmatch.fnmatchcase(r, rule) for r in known)
        if rule is not None and not matched and not rule.startswith("xid_"):
            f.error("rule", f"no rule '{rule}'{did_you_mean(rule, known)}")
            continue
        hosts_text = f.str("hosts")
        hosts = None
        if hosts_text is not None and inventory is not None:
            try:
                hosts = frozenset(inventory.select(hosts_text).names)
            except DcctlError as exc:
                f.error("hosts", str(exc))
                continue
        severity = f.str("severity", choices=("warning", "critical"))
        action = f.str("action", choices=tuple(a.value for a in Action))
        ignore = bool(f.boolean("ignore"))
        if not ignore and severity is None and action is None:
            f.error(None, "an entry needs ignore: true, a severity or an action")
            continue
        if rule is None:
            continue
        entries.append(PolicyEntry(
            rule, hosts, hosts_text, ignore,
            Severity[severity] if severity else None,
            Action(action) if action else None,
            f.str("note"), f.loc(None),
        ))  # fmt: skip
    if diags.errors:
        raise PolicyFileError(diags.sorted(), f"health policy {path} is invalid")
    return HealthPolicy(tuple(entries))
