"""Resource types as data: each declares its name, its typed fields and how to build itself.

A field has a kind (text, string, bool, int, number, choice, argv, int_list), whether it is
required, a default, a range or choices, a value rule (:mod:`dcctl.playbook.values`) and help.
The playbook reader checks literal values against the declaration with their file:line; a value
that is a ``{{ variable }}`` is checked the same way once substituted for each host. A resource
module registers its types once; there is no fallback type.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dcctl.errors import PlaybookError
from dcctl.playbook.resources.base import Resource
from dcctl.playbook.values import check_value
from dcctl.source.reader import Fields

#: Field kinds and what they accept (``{{ var }}`` text is accepted by every kind at read time).
KINDS = ("text", "string", "string_or_false", "bool", "int", "number", "choice", "argv",
         "int_list")  # fmt: skip


@dataclass(frozen=True)
class FieldSpec:
    """One field of a resource type."""

    name: str
    kind: str
    help: str
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceType:
    """A resource type: its fields, which of them are alternatives, and how it is built."""

    name: str
    help: str
    fields: tuple[FieldSpec, ...]
    build: Callable[[Mapping[str, Any]], Resource]
    one_of: tuple[tuple[str, ...], ...] = ()  # exactly one of each group must be given

    def field(self, name: str) -> FieldSpec:
        """The declaration of a field."""
        return next(f for f in self.fields if f.name == name)


_TYPES: dict[str, ResourceType] = {}


def register(resource_type: ResourceType) -> ResourceType:
    """Declare a resource type (once, in its module). A second one of a name is a bug."""
    if resource_type.name in _TYPES:
        raise ValueError(f"resource type '{resource_type.name}' is registered twice")
    _TYPES[resource_type.name] = resource_type
    return resource_type


def registered() -> dict[str, ResourceType]:
    """Every registered resource type by name."""
    return dict(_TYPES)


def is_template(value: object) -> bool:
    """True for text that substitutes a variable (checked once substituted)."""
    return isinstance(value, str) and "{{" in value


def read_field(rt: ResourceType, spec: FieldSpec, fields: Fields) -> tuple[bool, Any]:
    """(usable, value) of one field as written: typed, ranged, checked; templates kept."""
    raw = fields.plain(spec.name)
    if is_template(raw):
        return True, raw
    problem, value = convert(rt, spec, raw)
    if problem is not None:
        fields.error(spec.name, problem)
        return False, None
    return True, value


def convert(rt: ResourceType, spec: FieldSpec, raw: Any) -> tuple[str | None, Any]:
    """(problem, value): a value of the field's kind, or why it is not one."""
    shown = f"{raw!r}" if isinstance(raw, str) else ""
    got = f"got {shown} (a string)" if isinstance(raw, str) else f"got {_what(raw)}"
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return None, raw
        return f"expected true or false, {got}", None
    if spec.kind in ("int", "number"):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return f"expected {'an integer' if spec.kind == 'int' else 'a number'}, {got}", None
        if spec.kind == "int" and not float(raw).is_integer():
            return f"expected an integer, got {raw:g}", None
        if spec.minimum is not None and raw < spec.minimum:
            return f"must be at least {spec.minimum:g}, got {_num(raw)}", None
        if spec.maximum is not None and raw > spec.maximum:
            return f"must be at most {spec.maximum:g}, got {_num(raw)}", None
        return None, int(raw) if spec.kind == "int" else float(raw)
    if spec.kind == "int_list":
        items = raw if isinstance(raw, list) else [raw]
        if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items):
            return f"expected a GPU index or a list of them, {got}", None
        return None, tuple(items)
    if spec.kind == "argv":
        if isinstance(raw, list):
            if not all(isinstance(a, str | int | float) and not isinstance(a, bool) for a in raw):
                return "expected a list of words (strings or numbers)", None
            return _checked(rt, spec, [str(a) for a in raw])
        if isinstance(raw, str):
            try:
                return _checked(rt, spec, shlex.split(raw))
            except ValueError as exc:
                return f"{exc} (quote as a shell would, or give a list)", None
        return f"expected a list of words, {got}", None
    if spec.kind == "string_or_false":
        if raw is False:
            return None, None
        if not isinstance(raw, str):
            return f"expected a string or false, {got}", None
        return _checked(rt, spec, raw)
    if spec.kind == "text":
        if isinstance(raw, bool | list | dict) or raw is None:
            return f"expected a single value (text or a number), {got}", None
        text = raw if isinstance(raw, str) else f"{raw:g}" if isinstance(raw, float) else str(raw)
        return _checked(rt, spec, text)
    # string, choice
    if not isinstance(raw, str):
        return f"expected a string, {got}", None
    if spec.kind == "choice":
        value = raw.upper() if all(c.isupper() for c in spec.choices if c.isalpha()) else raw
        if value not in spec.choices:
            listed = ", ".join(spec.choices)
            return f"must be one of {listed}, got {raw!r}", None
        return None, value
    return _checked(rt, spec, raw)


def _checked(rt: ResourceType, spec: FieldSpec, value: Any) -> tuple[str | None, Any]:
    words = value if isinstance(value, list) else [value]
    for word in words:
        problem = check_value(rt.name, spec.name, word)
        if problem is None and "\0" in word:
            problem = "must not contain a NUL byte"
        if problem is not None:
            return problem, None
    return None, tuple(value) if isinstance(value, list) else value


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _what(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{value!r} (a number)"


def typed_after_render(rt: ResourceType, spec: FieldSpec, text: str, where: str) -> Any:
    """A substituted template converted to the field's kind; PlaybookError naming the field."""
    raw: Any = text
    if spec.kind == "bool":
        lowered = text.strip().lower()
        raw = {"true": True, "false": False}.get(lowered, text)
    elif spec.kind in ("int", "number", "int_list"):
        try:
            raw = float(text) if "." in text else int(text)
        except ValueError:
            raw = text
    problem, value = convert(rt, spec, raw)
    if problem is not None:
        raise PlaybookError(f"{where}: {problem}")
    return value


def describe(rt: ResourceType) -> str:
    """One line per field, for help and errors."""
    return ", ".join(f.name for f in rt.fields)
