"""Reading a class map: which workload class and priority each host's GPUs run.

```yaml
classes:                 # your own curves: [cap / max limit, relative throughput] points
  batch-train: [[0.0, 0.0], [0.6, 0.9], [1.0, 1.0]]
assign:                  # first match wins; hosts is a --limit expression
  - {hosts: "@canary", class: inference-decode, priority: 3}
  - {hosts: "gpu[001-008]", class: training, priority: 2}
default: {class: training, priority: 1}
floors: {inference-decode: 0.95}   # least relative throughput a class's GPUs may get
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dcctl.errors import ClassMapError, PlanError, SelectionError
from dcctl.inventory.model import Inventory
from dcctl.planning.power.problem import Assignment
from dcctl.planning.power.workloads import WorkloadClass, all_classes, curve_from_points
from dcctl.source.diagnostics import did_you_mean
from dcctl.source.reader import Fields, mapping_items, read_document, to_plain


@dataclass(frozen=True)
class ClassMap:
    """Classes known, the class of each host, and per-class floors."""

    classes: dict[str, WorkloadClass]
    assignments: dict[str, Assignment]
    floors: dict[str, float]


def default_class_map(inventory: Inventory) -> ClassMap:
    """Every host runs ``training`` at priority 1."""
    return ClassMap(all_classes(), {}, {})


def read_class_map(path: Path, inventory: Inventory) -> ClassMap:
    """Read a class map; problems are reported with file:line:column like inventory errors."""
    source, node, diags = read_document(path, ClassMapError)
    root = Fields(source, node, "", diags, ("classes", "assign", "default", "floors"))
    extra: dict[str, WorkloadClass] = {}
    classes_node = root.value_node("classes")
    for name, _, value in (
        (mapping_items(source, classes_node, "classes", diags) or []) if classes_node else []
    ):
        raw = to_plain(source, value, f"classes.{name}", diags)
        try:
            extra[name] = curve_from_points(name, raw)
        except PlanError as exc:
            diags.error(source.loc(value), f"classes.{name}", str(exc))
    known = all_classes(extra)

    def assignment(fields: Fields) -> Assignment | None:
        workload = fields.str("class")
        priority = fields.number("priority", minimum=0, maximum=1000, integer=True)
        if workload is not None and workload not in known:
            fields.error("class", f"unknown class '{workload}'{did_you_mean(workload, known)}")
            return None
        if workload is None:
            return None
        return Assignment(workload, priority if priority is not None else 1)

    assignments: dict[str, Assignment] = {}
    default = Assignment("training", 1)
    default_fields = root.sub("default", ("class", "priority"), ("class",))
    if default_fields is not None:
        default = assignment(default_fields) or default
    for i, item in enumerate(root.sequence("assign") or []):
        fields = Fields(source, item, f"assign[{i}]", diags, ("hosts", "class", "priority"),
                        ("hosts", "class"))  # fmt: skip
        if not fields.ok:
            continue
        chosen = assignment(fields)
        expression = fields.str("hosts")
        if chosen is None or expression is None:
            continue
        try:
            selected = inventory.select(expression)
        except SelectionError as exc:
            fields.error("hosts", str(exc))
            continue
        for host in selected:
            assignments.setdefault(host, chosen)
    for host in inventory.hosts:
        assignments.setdefault(host, default)
    floors: dict[str, float] = {}
    floors_fields = root.sub("floors", tuple(known))
    if floors_fields is not None:
        for name in floors_fields.entries:
            value = floors_fields.number(name, minimum=0, maximum=1.5)
            if value is not None:
                floors[name] = float(value)
    if diags.errors:
        raise ClassMapError(diags.sorted(), f"class map {path} is invalid")
    return ClassMap(known, assignments, floors)
