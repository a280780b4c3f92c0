"""Reading YAML nodes field by field, so every error can point at its file:line:column.

Files are composed into nodes by :mod:`dcctl.source.compose` (no arbitrary Python
objects are ever constructed); :class:`Fields` then reads one mapping against the field names a
schema allows, turning unknown fields, duplicate keys and wrong types into diagnostics.
"""

from __future__ import annotations

import builtins
import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dcctl.errors import InputFileError
from dcctl.source.compose import compose_text
from dcctl.source.diagnostics import Diagnostics, Loc, did_you_mean

#: Largest inventory file accepted.
MAX_FILE_BYTES = 32 * 1024 * 1024
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALARS: dict[str, Callable[[ScalarNode], Any]] = {
    "tag:yaml.org,2002:str": lambda n: n.value,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
    "tag:yaml.org,2002:timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
}


def kind_of(node: Node) -> str:
    """A human word for what a node holds: mapping, list, string, integer, ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {
        "tag:yaml.org,2002:str": "a string",
        "tag:yaml.org,2002:int": "an integer",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "a boolean",
        "tag:yaml.org,2002:null": "nothing (null)",
        "tag:yaml.org,2002:timestamp": "a timestamp",
    }.get(node.tag, f"a value tagged {node.tag}")


@dataclass(frozen=True)
class Source:
    """One YAML file being read: its path and the name used in messages."""

    path: Path
    display: str

    def loc(self, node: Node) -> Loc:
        """Location of a node's start, 1-based."""
        mark = node.start_mark
        return Loc(self.display, mark.line + 1, mark.column + 1)

    @property
    def directory(self) -> Path:
        """Folder of the file, against which relative paths in it resolve."""
        return self.path.parent


def compose_file(source: Source, diags: Diagnostics) -> Node | None:
    """Read and compose one YAML file; report problems and return None on failure."""
    try:
        size = source.path.stat().st_size
        if size > MAX_FILE_BYTES:
            diags.error(
                Loc(source.display, 1, 1),
                "",
                f"file is {size:,} bytes, more than the limit of {MAX_FILE_BYTES:,}",
            )
            return None
        data = source.path.read_bytes()
    except OSError as exc:
        diags.error(None, "", f"{source.display}: cannot read: {exc.strerror or exc}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        diags.error(Loc(source.display, 1, 1), "", f"not UTF-8 text (byte {exc.start})")
        return None
    return compose_text(text, source, diags)


def read_document(path: Path, error: type[InputFileError]) -> tuple[Source, Node, Diagnostics]:
    """Compose a whole YAML file (a playbook, a class map) for reading with :class:`Fields`.

    A missing, empty or broken file raises ``error`` (the file kind's subclass of
    :class:`InputFileError`) carrying located diagnostics.
    """
    diags = Diagnostics()
    source = Source(path, str(path))
    node = compose_file(source, diags) if path.is_file() else None
    if node is None:
        if not diags.errors and not path.is_file():
            diags.error(None, "", f"{path}: no such {error.kind}")
        elif not diags.errors:
            diags.error(Loc(source.display, 1, 1), "", f"empty: expected a {error.kind}")
        raise error(diags.items, f"{error.kind} {path} is invalid")
    return source, node, diags


def scalar_value(node: ScalarNode) -> Any:
    """The Python value of a scalar node (str, int, float, bool, None; timestamps as text)."""
    convert = _SCALARS.get(node.tag)
    if convert is None:
        raise ValueError(f"unsupported YAML tag {node.tag}")
    value = convert(node)
    if isinstance(value, _dt.date | _dt.datetime):
        return node.value
    return value


def mapping_items(
    source: Source, node: Node, path: str, diags: Diagnostics
) -> list[tuple[str, Node, Node]] | None:
    """The (key, key node, value node) entries of a mapping, with merge keys applied.

    Reports a non-mapping, non-text keys and duplicate keys; returns None if not a mapping.
    """
    if not isinstance(node, MappingNode):
        diags.error(source.loc(node), path, f"expected a mapping, got {kind_of(node)}")
        return None
    explicit: list[tuple[str, Node, Node]] = []
    merged: list[tuple[str, Node, Node]] = []
    seen: dict[str, Node] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            merged.extend(_merge_sources(source, value_node, path, diags))
            continue
        if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:null":
            diags.error(source.loc(key_node), path, f"keys must be text, got {kind_of(key_node)}")
            continue
        key = str(key_node.value)
        if key in seen:
            first = source.loc(seen[key])
            diags.error(
                source.loc(key_node),
                join_path(path, key),
                f"duplicate key '{key}' (first at line {first.line})",
            )
            continue
        seen[key] = key_node
        explicit.append((key, key_node, value_node))
    for key, key_node, value_node in merged:
        if key not in seen:
            seen[key] = key_node
            explicit.append((key, key_node, value_node))
    return explicit


def _merge_sources(
    source: Source, node: Node, path: str, diags: Diagnostics
) -> list[tuple[str, Node, Node]]:
    """Entries brought in by a ``<<: *anchor`` merge key (a mapping or a list of them)."""
    targets = node.value if isinstance(node, SequenceNode) else [node]
    out: list[tuple[str, Node, Node]] = []
    for target in targets:
        items = mapping_items(source, target, path, diags)
        if items:
            out.extend(items)
    return out


def to_plain(source: Source, node: Node, path: str, diags: Diagnostics) -> Any:
    """Convert a node to plain Python data (for free-form values such as vars)."""
    if isinstance(node, ScalarNode):
        try:
            return scalar_value(node)
        except ValueError as exc:
            diags.error(source.loc(node), path, str(exc))
            return None
    if isinstance(node, SequenceNode):
        return [to_plain(source, item, f"{path}[{i}]", diags) for i, item in enumerate(node.value)]
    items = mapping_items(source, node, path, diags) or []
    return {key: to_plain(source, value, join_path(path, key), diags) for key, _, value in items}


def content_loc(source: Source, node: ScalarNode) -> Loc:
    """Where a scalar's text starts: past the opening quote of a quoted scalar."""
    loc = source.loc(node)
    if node.style in ("'", '"'):
        return Loc(loc.file, loc.line, loc.col + 1)
    return loc


def join_path(path: str, key: str) -> str:
    """Append a key to a field path (``hosts[3]`` + ``profile``)."""
    return f"{path}.{key}" if path else key


class Fields:
    """Reads one mapping node against a fixed set of field names.

    Unknown fields (with a did-you-mean), missing required fields and type mismatches become
    diagnostics; accessors return None for absent or invalid values so reading goes on.
    """

    def __init__(
        self,
        source: Source,
        node: Node,
        path: str,
        diags: Diagnostics,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> None:
        """Check the mapping's keys; see the class docstring."""
        self.source = source
        self.node = node
        self.path = path
        self.diags = diags
        self.entries: dict[str, tuple[Node, Node]] = {}
        items = mapping_items(source, node, path, diags)
        self.ok = items is not None
        allowed = list(allowed)
        for key, key_node, value_node in items or []:
            if key not in allowed:
                diags.error(
                    source.loc(key_node),
                    join_path(path, key),
                    f"unknown field '{key}'{did_you_mean(key, allowed)}",
                )
                continue
            self.entries[key] = (key_node, value_node)
        if self.ok:
            for key in required:
                if key not in self.entries:
                    diags.error(source.loc(node), path, f"missing required field '{key}'")

    def __contains__(self, key: str) -> bool:
        """True when the field is present (and allowed)."""
        return key in self.entries

    def value_node(self, key: str) -> Node | None:
        """The raw value node of a field."""
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def loc(self, key: str | None = None) -> Loc:
        """Location of a field's value, or of the mapping itself."""
        node = self.value_node(key) if key else None
        return self.source.loc(node if node is not None else self.node)

    def key_loc(self, key: str) -> Loc:
        """Location of a field's key."""
        entry = self.entries.get(key)
        return self.source.loc(entry[0] if entry else self.node)

    def field_path(self, key: str) -> str:
        """Full path of a field."""
        return join_path(self.path, key)

    def error(self, key: str | None, message: str) -> None:
        """Report an error at a field (or at the mapping when key is None)."""
        self.diags.error(self.loc(key), self.field_path(key) if key else self.path, message)

    def warning(self, key: str | None, message: str) -> None:
        """Report a warning at a field (or at the mapping when key is None)."""
        self.diags.warning(self.loc(key), self.field_path(key) if key else self.path, message)

    def _scalar(self, key: str, wanted: str) -> tuple[bool, Any]:
        """(usable, value) of a scalar field; reports non-scalars as not being ``wanted``."""
        node = self.value_node(key)
        if node is None:
            return False, None
        if not isinstance(node, ScalarNode):
            self.error(key, f"expected {wanted}, got {kind_of(node)}")
            return False, None
        try:
            return True, scalar_value(node)
        except ValueError as exc:
            self.error(key, str(exc))
            return False, None

    def _wrong(self, key: str, wanted: str, value: Any) -> None:
        shown = f" '{value}'" if isinstance(value, str) else ""
        node = self.value_node(key)
        got = kind_of(node) if node is not None else "nothing"
        self.error(key, f"expected {wanted}, got {got}{shown}")

    def str(
        self, key: builtins.str, *, choices: Iterable[builtins.str] | None = None
    ) -> str | None:
        """A text field; numbers are not silently turned into text."""
        usable, value = self._scalar(key, "a string")
        if not usable:
            return None
        if not isinstance(value, str):
            self._wrong(key, "a string", value)
            return None
        if not value.strip():
            self.error(key, "must not be empty")
            return None
        if choices is not None:
            options = list(choices)
            if value not in options:
                listed = ", ".join(f"'{c}'" for c in options)
                self.error(
                    key, f"must be one of {listed}, got '{value}'{did_you_mean(value, options)}"
                )
                return None
        return value

    def number(
        self,
        key: builtins.str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
        exclusive_minimum: bool = False,
    ) -> Any:
        """A numeric field within bounds (booleans are not numbers)."""
        wanted = "an integer" if integer else "a number"
        usable, value = self._scalar(key, wanted)
        if not usable:
            return None
        ok_type = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type):
            self._wrong(key, wanted, value)
            return None
        if value != value or value in (float("inf"), float("-inf")):
            self.error(key, f"expected {wanted}, got {value}")
            return None
        if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
            relation = "greater than" if exclusive_minimum else "at least"
            self.error(key, f"must be {relation} {_num(minimum)}, got {_num(value)}")
            return None
        if maximum is not None and value > maximum:
            self.error(key, f"must be at most {_num(maximum)}, got {_num(value)}")
            return None
        return value

    def boolean(self, key: builtins.str) -> bool | None:
        """A true/false field."""
        usable, value = self._scalar(key, "true or false")
        if not usable:
            return None
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
            return None
        return value

    def str_list(self, key: builtins.str) -> list[tuple[builtins.str, Loc]] | None:
        """A field holding one string or a list of strings; each with its location."""
        node = self.value_node(key)
        if node is None:
            return None
        items = node.value if isinstance(node, SequenceNode) else [node]
        out: list[tuple[builtins.str, Loc]] = []
        for i, item in enumerate(items):
            sub = f"{self.field_path(key)}[{i}]" if isinstance(node, SequenceNode) else ""
            if not isinstance(item, ScalarNode) or item.tag != "tag:yaml.org,2002:str":
                self.diags.error(
                    self.source.loc(item),
                    sub or self.field_path(key),
                    f"expected a string, got {kind_of(item)}",
                )
                continue
            if not item.value.strip():
                self.diags.error(self.source.loc(item), sub or self.field_path(key), "is empty")
                continue
            out.append((item.value, content_loc(self.source, item)))
        return out

    def sequence(self, key: builtins.str) -> list[Node] | None:
        """A list field's item nodes (reports a non-list)."""
        node = self.value_node(key)
        if node is None:
            return None
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, SequenceNode):
            self.error(key, f"expected a list, got {kind_of(node)}")
            return None
        return list(node.value)

    def sub(
        self,
        key: builtins.str,
        allowed: Iterable[builtins.str],
        required: Iterable[builtins.str] = (),
    ) -> Fields | None:
        """Fields of a nested mapping, or None when absent."""
        node = self.value_node(key)
        if node is None:
            return None
        fields = Fields(self.source, node, self.field_path(key), self.diags, allowed, required)
        return fields if fields.ok else None

    def plain(self, key: builtins.str) -> Any:
        """A free-form field converted to plain Python data."""
        node = self.value_node(key)
        return (
            None if node is None else to_plain(self.source, node, self.field_path(key), self.diags)
        )


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
