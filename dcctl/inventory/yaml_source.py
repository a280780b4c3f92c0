"""Safe YAML reading that keeps every value's file:line:column.

We compose YAML into PyYAML's node graph with the C (libyaml) parser, never construct arbitrary
Python objects, and read the graph field by field so each error can point at the exact spot.
Guards: a size limit per file, a limit on how far aliases may expand (the "billion laughs"
bomb), no recursive aliases, a nesting depth limit, and duplicate keys are errors.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dcctl.inventory.diagnostics import Diagnostics, Loc, did_you_mean

#: Largest inventory file accepted.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Largest number of nodes a document may hold once aliases are expanded.
MAX_EXPANDED_NODES = 5_000_000
#: Deepest nesting accepted.
MAX_DEPTH = 64

_Loader: type = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
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


def compose_text(text: str, source: Source, diags: Diagnostics) -> Node | None:
    """Compose YAML text of a single document into nodes, with the alias and depth guards."""
    try:
        return _Composer(source, diags).compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(source.display, mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        diags.error(loc, "", f"invalid YAML: {problem}")
    except yaml.YAMLError as exc:
        diags.error(Loc(source.display, 1, 1), "", f"invalid YAML: {exc}")
    except _Refused:
        pass
    return None


class _Refused(Exception):
    """Composition stopped; the reason is already in the diagnostics."""


def _implicit_tag(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar (int, float, bool, null, ... or str)."""
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return _STR


class _Composer:
    """Builds PyYAML nodes from libyaml's event stream without recursion.

    Unlike ``yaml.compose`` (whose C composer recurses and can overflow the C stack on deeply
    nested input), this bounds the depth, refuses recursive aliases, and tracks how far aliases
    would expand as each collection closes, so an alias bomb is caught before anything expands.
    """

    def __init__(self, source: Source, diags: Diagnostics) -> None:
        self.source = source
        self.diags = diags
        self.anchors: dict[str, Node] = {}
        self.sizes: dict[int, int] = {}

    def refuse(self, mark: Any, message: str) -> None:
        self.diags.error(Loc(self.source.display, mark.line + 1, mark.column + 1), "", message)
        raise _Refused

    def compose(self, text: str) -> Node | None:
        root: Node | None = None
        documents = 0
        stack: list[Node] = []
        pending: list[Node | None] = []  # per open mapping: a key waiting for its value
        open_ids: set[int] = set()
        # Without an anchor there can be no alias, so no bomb: skip the size bookkeeping.
        track = "&" in text
        sizes = self.sizes
        for event in yaml.parse(text, Loader=_Loader):
            kind = type(event)
            node: Node
            if kind is ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = _STR
                    if event.implicit[0]:
                        is_key = (
                            bool(stack) and pending[-1] is None and type(stack[-1]) is MappingNode
                        )
                        if not is_key or event.value == "<<":
                            tag = _implicit_tag(event.value)
                node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
                if track:
                    sizes[id(node)] = 1
            elif kind is SequenceStartEvent or kind is MappingStartEvent:
                if len(stack) >= MAX_DEPTH:
                    self.refuse(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")
                if kind is SequenceStartEvent:
                    tag = event.tag if event.tag not in (None, "!") else _SEQ
                    node = SequenceNode(tag, [], event.start_mark, None, event.flow_style)
                else:
                    tag = event.tag if event.tag not in (None, "!") else _MAP
                    node = MappingNode(tag, [], event.start_mark, None, event.flow_style)
                if event.anchor is not None:
                    self.anchors[event.anchor] = node
                stack.append(node)
                pending.append(None)
                open_ids.add(id(node))
                continue
            elif kind is SequenceEndEvent or kind is MappingEndEvent:
                node = stack.pop()
                pending.pop()
                open_ids.discard(id(node))
                node.end_mark = event.end_mark
                if track:
                    if kind is MappingEndEvent:
                        size = 1 + sum(sizes[id(k)] + sizes[id(v)] for k, v in node.value)
                    else:
                        size = 1 + sum(sizes[id(item)] for item in node.value)
                    if size > MAX_EXPANDED_NODES:
                        self.refuse(
                            node.start_mark,
                            f"YAML aliases expand this value to more than {MAX_EXPANDED_NODES:,} "
                            "nodes (alias bomb?)",
                        )
                    sizes[id(node)] = size
            elif kind is AliasEvent:
                target = self.anchors.get(event.anchor)
                if target is None:
                    self.refuse(event.start_mark, f"unknown alias '*{event.anchor}'")
                if id(target) in open_ids:
                    self.refuse(
                        target.start_mark, "recursive YAML alias: this value contains itself"
                    )
                node = target
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.refuse(event.start_mark, "expected one YAML document, found several")
                continue
            else:
                continue
            if kind is ScalarEvent and event.anchor is not None:
                self.anchors[event.anchor] = node
            if not stack:
                root = node
                continue
            parent = stack[-1]
            if isinstance(parent, SequenceNode):
                parent.value.append(node)
            elif pending[-1] is None:
                pending[-1] = node
            else:
                parent.value.append((pending[-1], node))
                pending[-1] = None
        if isinstance(root, ScalarNode) and root.tag == "tag:yaml.org,2002:null":
            return None
        return root


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
        self.error(key, f"expected {wanted}, got {kind_of(self.value_node(key))}{shown}")

    def str(self, key: str, *, choices: Iterable[str] | None = None) -> str | None:
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
        key: str,
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

    def boolean(self, key: str) -> bool | None:
        """A true/false field."""
        usable, value = self._scalar(key, "true or false")
        if not usable:
            return None
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
            return None
        return value

    def str_list(self, key: str) -> list[tuple[str, Loc]] | None:
        """A field holding one string or a list of strings; each with its location."""
        node = self.value_node(key)
        if node is None:
            return None
        items = node.value if isinstance(node, SequenceNode) else [node]
        out: list[tuple[str, Loc]] = []
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

    def sequence(self, key: str) -> list[Node] | None:
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

    def sub(self, key: str, allowed: Iterable[str], required: Iterable[str] = ()) -> Fields | None:
        """Fields of a nested mapping, or None when absent."""
        node = self.value_node(key)
        if node is None:
            return None
        fields = Fields(self.source, node, self.field_path(key), self.diags, allowed, required)
        return fields if fields.ok else None

    def plain(self, key: str) -> Any:
        """A free-form field converted to plain Python data."""
        node = self.value_node(key)
        return (
            None if node is None else to_plain(self.source, node, self.field_path(key), self.diags)
        )


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
