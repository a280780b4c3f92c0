"""Saved plans: ``apply --dry-run --save-plan FILE`` writes one, ``apply --plan FILE`` applies it.

A saved plan records, per host and resource, the fingerprint of the change that was shown
(its resource, before, after and commands, secrets masked), with digests of the playbook and
inventory it came from. Applying it reads every host again and keeps only the changes whose
fingerprint is the same now: a change whose host moved on is *stale* (not applied, exit 3), a
change the saved plan did not have is not applied either. Nothing outside the saved plan runs,
like a saved Terraform plan. Secret values are never written: what is hashed is masked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dcctl.errors import InputError
from dcctl.inventory.model import Inventory
from dcctl.model.secrets import mask_data
from dcctl.playbook.model import HostPlan, Outcome, Plan
from dcctl.playbook.schema import Playbook
from dcctl.source.files import write_atomically

SCHEMA = "dcctl.apply.saved/1"


@dataclass(frozen=True)
class SavedPlan:
    """What ``--plan`` reads back: where the plan came from and each change's fingerprint."""

    path: Path
    limit: str | None
    #: host → resource label → fingerprint of the change shown (absent: no change was shown)
    changes: dict[str, dict[str, str]]
    hosts: list[str]


def save_plan(path: Path, plan: Plan, playbook: Playbook, inventory: Inventory,
              limit: str | None) -> None:  # fmt: skip
    """Write the plan atomically (a temporary file renamed over ``path``), secrets masked."""
    from dcctl.playbook.executor import run_digests

    hosts = []
    for host in plan.hosts:
        resources = []
        for outcome in host.outcomes:
            entry = outcome.to_dict()
            if outcome.change is not None:
                entry["fingerprint"] = outcome.change.fingerprint()
            resources.append(entry)
        hosts.append({"host": host.host, "error": host.error, "resources": resources})
    document = {
        "schema": SCHEMA,
        "playbook": str(playbook.file or playbook.name),
        **run_digests(playbook, inventory),
        "limit": limit,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pending": plan.pending,
        "hosts": hosts,
    }
    text = json.dumps(mask_data(document, plan.secrets), indent=2, ensure_ascii=False) + "\n"
    write_atomically(Path(path), text)


def load_plan(path: Path, playbook: Playbook, inventory: Inventory) -> SavedPlan:
    """Read a saved plan; InputError when it is not one, or was made from other files."""
    from dcctl.playbook.executor import run_digests

    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"--plan {path}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"--plan {path}: not a saved plan (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"--plan {path}: not a saved plan (expected schema {SCHEMA})")
    now = run_digests(playbook, inventory)
    for key, what in (("playbook_sha256", "playbook"), ("inventory_sha256", "inventory")):
        if data.get(key) != now[key]:
            raise InputError(
                f"--plan {path}: the {what} changed since the plan was saved (or is another "
                f"file); make a new plan with --dry-run --save-plan"
            )
    changes: dict[str, dict[str, str]] = {}
    hosts: list[str] = []
    try:
        for host in data["hosts"]:
            name = str(host["host"])
            hosts.append(name)
            changes[name] = {
                f"{i}:{r['resource']}": str(r["fingerprint"])
                for i, r in enumerate(host["resources"])
                if r.get("changed") and "fingerprint" in r
            }
        limit = data.get("limit")
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"--plan {path}: damaged saved plan ({exc!r})") from None
    return SavedPlan(Path(path), limit if isinstance(limit, str) else None, changes, hosts)


def keep_saved(fresh: Plan, saved: SavedPlan) -> Plan:
    """The fresh plan cut down to the saved one: a change that differs, or is new, is stale."""
    out = Plan(fresh.playbook, secrets=fresh.secrets)
    for host in fresh.hosts:
        wanted = saved.changes.get(host.host, {})
        kept = HostPlan(host.host, error=host.error)
        for i, outcome in enumerate(host.outcomes):
            change = outcome.change
            label = outcome.resource
            key = f"{i}:{label}"
            if change is None:
                if key in wanted and outcome.error is None:
                    why = "already as desired now"  # someone did it since: nothing to do
                    kept.outcomes.append(replace(outcome, ok_reason=why))
                else:
                    kept.outcomes.append(outcome)
                continue
            if key not in wanted:
                kept.outcomes.append(Outcome(label, None, stale="not in the saved plan "
                                             "(the host changed since it was saved)"))  # fmt: skip
            elif wanted[key] != change.fingerprint():
                kept.outcomes.append(Outcome(label, None, stale="the host changed since the "
                                             "plan was saved: its change is not the one "
                                             "shown"))  # fmt: skip
            else:
                kept.outcomes.append(outcome)
        out.hosts.append(kept)
    return out
