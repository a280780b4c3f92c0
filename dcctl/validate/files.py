"""Recognise an input file's kind and check it offline, with every problem located.

Kinds are told apart by their top-level keys (a playbook has ``resources``, a jobs file
``jobs``, …; a baseline is dcctl's JSON with its schema). Kinds that refer to the site (jobs,
allocations, class maps, playbooks' hosts and variables, policies' host patterns) are checked
against the inventory when one is given; jobs, allocations and class maps need one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dcctl.errors import DcctlError, InputFileError
from dcctl.inventory.loader import check_inventory, max_hosts_from
from dcctl.inventory.model import Inventory
from dcctl.source.compose import compose_text
from dcctl.source.diagnostics import Diagnostic, Diagnostics, Loc, Severity
from dcctl.source.reader import Source

#: Top-level key → kind, in the order they are tried.
KEYS = (
    ("resources", "playbook"),
    ("jobs", "jobs file"),
    ("allocations", "allocations file"),
    ("workloads", "workloads file"),
    ("rules", "health policy"),
    ("assign", "class map"),
    ("classes", "class map"),
    ("hosts", "inventory"),
    ("include", "inventory"),
    ("sites", "inventory"),
    ("profiles", "inventory"),
)
KINDS = (*dict.fromkeys(k for _, k in KEYS), "baseline")
NEEDS_INVENTORY = ("jobs file", "allocations file", "class map")


@dataclass
class FileCheck:
    """One file's verdict: its kind, its diagnostics, a short description when valid."""

    path: str
    kind: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    detail: str = ""
    hosts: int | None = None
    files: list[str] | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Only the warnings."""
        return [d for d in self.diagnostics if not d.is_error]


def recognise(path: Path) -> tuple[str | None, list[Diagnostic]]:
    """The kind of a file, or None with the reason as a diagnostic."""
    diags = Diagnostics()
    display = str(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        diags.error(None, "", f"{display}: cannot read: {exc.strerror or exc}")
        return None, diags.items
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and str(data.get("schema", "")).startswith(
            "dcctl.health.baseline/"
        ):
            return "baseline", []
    node = compose_text(text, Source(path, display), diags)
    if diags.errors:
        return None, diags.items
    keys: set[str] = set()
    if node is not None and hasattr(node, "value") and isinstance(node.value, list):
        keys = {str(k.value) for k, _ in node.value if hasattr(k, "value")}
    for key, kind in KEYS:
        if key in keys:
            return kind, []
    wanted = ", ".join(k for k, _ in KEYS)
    diags.error(Loc(display, 1, 1), "", f"cannot tell what kind of file this is (no top-level "
                                        f"{wanted}, nor a dcctl baseline)")  # fmt: skip
    return None, diags.items


def check_file(
    path: Path,
    inventory: Inventory | None,
    kind: str | None = None,
    *,
    max_hosts: int | None = None,
) -> FileCheck:
    """Check one file of any kind (recognised unless ``kind`` is given), no host contacted.

    ``max_hosts``: the cap on hosts an inventory may define (default ``$DCCTL_MAX_HOSTS``).
    """
    if kind is None:
        kind, problems = recognise(path)
        if kind is None:
            return FileCheck(str(path), None, problems)
    if kind == "inventory":
        result = check_inventory(path, max_hosts=max_hosts or max_hosts_from())
        inv = result.inventory
        return FileCheck(
            result.display, kind, result.diagnostics,
            f"{len(inv.hosts)} hosts, {len(inv.groups)} groups, {len(inv.racks)} racks, "
            f"{len(inv.pdus)} PDUs, {len(inv.feeds)} feeds" if inv else "",
            len(inv.hosts) if inv else None, list(inv.files) if inv else None,
        )  # fmt: skip
    if kind in NEEDS_INVENTORY and inventory is None:
        diag = Diagnostic(
            Severity.ERROR,
            f"checking a {kind} needs the inventory it is used with: pass -i/--inventory",
            "",
            Loc(str(path), 1, 1),
        )
        return FileCheck(str(path), kind, [diag])  # fmt: skip
    checker = CHECKERS[kind]
    try:
        detail, warnings = checker(path, inventory)
    except InputFileError as exc:
        return FileCheck(str(path), kind, list(exc.diagnostics))
    except DcctlError as exc:
        diag = Diagnostic(Severity.ERROR, str(exc), "", Loc(str(path), 1, 1))
        return FileCheck(str(path), kind, [diag])
    return FileCheck(str(path), kind, warnings, detail)


Checker = Callable[[Path, Inventory | None], tuple[str, list[Diagnostic]]]


def _playbook(path: Path, inventory: Inventory | None) -> tuple[str, list[Diagnostic]]:
    from dcctl.playbook.schema import check_playbook, read_playbook

    book = read_playbook(path)
    if inventory is not None:
        check_playbook(book, inventory)
        hosts = len(inventory.select(book.hosts))
        return f"{len(book.resources)} resources on {hosts} hosts", []
    return f"{len(book.resources)} resources (hosts and variables not checked: no -i)", []


def _jobs(path: Path, inventory: Inventory | None) -> tuple[str, list[Diagnostic]]:
    from dcctl.planning.placement.input_files import read_jobs

    assert inventory is not None
    return f"{len(read_jobs(path, inventory))} jobs", []


def _allocations(path: Path, inventory: Inventory | None) -> tuple[str, list[Diagnostic]]:
    from dcctl.planning.placement.input_files import read_allocations

    assert inventory is not None
    return f"{len(read_allocations(path, inventory))} hosts in use", []


def _class_map(path: Path, inventory: Inventory | None) -> tuple[str, list[Diagnostic]]:
    from dcctl.planning.power.class_map import read_class_map

    assert inventory is not None
    classes = read_class_map(path, inventory)
    return f"{len(classes.classes)} classes, {len(classes.assignments)} hosts assigned", []


def _workloads(path: Path, inventory: Inventory | None) -> tuple[str, list[Diagnostic]]:
    from dcctl.planning.capacity.workloads import read_workloads

    return f"{len(read_workloads(path))} workloads", []


def _policy(path: Path, inventory: Inventory | None) -> tuple[str, list[Diagnostic]]:
    from dcctl.checks.policy import read_policy

    return f"{len(read_policy(path, inventory).entries)} rules", []


def _baseline(path: Path, inventory: Inventory | None) -> tuple[str, list[Diagnostic]]:
    from dcctl.checks.baseline import read_baseline

    hosts = read_baseline(path)
    warnings = []
    if inventory is not None:
        gone = sorted(h for h in hosts if h not in inventory.hosts)
        if gone:
            warnings.append(Diagnostic(
                Severity.WARNING, f"hosts not in the inventory: {', '.join(gone[:10])}",
                "hosts", Loc(str(path), 1, 1),
            ))  # fmt: skip
    return f"{len(hosts)} hosts", warnings


CHECKERS: dict[str, Checker] = {
    "playbook": _playbook,
    "jobs file": _jobs,
    "allocations file": _allocations,
    "class map": _class_map,
    "workloads file": _workloads,
    "health policy": _policy,
    "baseline": _baseline,
}
