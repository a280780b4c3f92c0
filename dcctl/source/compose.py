"""Composing YAML text into PyYAML nodes, safely, from libyaml's event stream.

``yaml.compose`` is not used: its C composer recurses, so deeply nested input overflows the C
stack (a crash, not an exception), and it resolves every scalar's type eagerly. This composer is
a loop over events that bounds the depth, refuses recursive aliases, and sizes aliased values as
each collection closes, so an alias bomb ("billion laughs") is refused before anything expands.
Explicit tags (``!!timestamp x``, ``!!float ""``, ``!custom``) are refused where they stand: every
value is typed by YAML's plain rules and then checked by the reader of its file kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

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

from dcctl.source.diagnostics import Diagnostics, Loc

if TYPE_CHECKING:
    from dcctl.source.reader import Source

#: Largest number of nodes a document may hold once aliases are expanded.
MAX_EXPANDED_NODES = 5_000_000
#: Deepest nesting accepted.
MAX_DEPTH = 64

_Loader: type = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


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


def _short_tag(tag: str) -> str:
    """``!!timestamp`` for YAML's own tags, the tag as written otherwise."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def _implicit_tag(value: str) -> str:
    """The tag YAML 1.1 gives a plain scalar (int, float, bool, null, ... or str)."""
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return str(tag)
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

    def refuse(self, mark: Any, message: str) -> NoReturn:
        self.diags.error(Loc(self.source.display, mark.line + 1, mark.column + 1), "", message)
        raise _Refused

    def refuse_tag(self, event: Any) -> NoReturn:
        """Stop at an explicit tag: values are typed by YAML's plain rules only."""
        self.refuse(
            event.start_mark,
            f"explicit YAML tag '{_short_tag(event.tag)}' is not accepted: write the value "
            "plainly (quote it to make it text)",
        )

    def compose(self, text: str) -> Node | None:
        root: Node | None = None
        documents = 0
        stack: list[Node] = []
        pending: list[Node | None] = []  # per open mapping: a key waiting for its value
        open_ids: set[int] = set()
        # Without an anchor there can be no alias, so no bomb: skip the size bookkeeping.
        track = "&" in text
        sizes = self.sizes
        # Events are told apart by exact class (``type(event) is X``: the fast test in this
        # hot loop), which mypy cannot narrow on: they are typed Any at this boundary.
        events: Iterable[Any] = yaml.parse(text, Loader=_Loader)
        for event in events:
            kind = type(event)
            node: Node
            if kind is ScalarEvent:
                tag = event.tag
                if tag is not None and tag != "!":
                    self.refuse_tag(event)
                else:
                    tag = _STR
                    if event.implicit[0]:
                        is_key = (
                            bool(stack) and pending[-1] is None and type(stack[-1]) is MappingNode
                        )
                        if not is_key or event.value == "<<":
                            tag = _implicit_tag(event.value)
                node = ScalarNode(tag, event.value, event.start_mark, None, event.style)
                if track:
                    sizes[id(node)] = 1
            elif kind is SequenceStartEvent or kind is MappingStartEvent:
                if event.tag is not None and event.tag != "!":
                    self.refuse_tag(event)
                if len(stack) >= MAX_DEPTH:
                    self.refuse(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")
                if kind is SequenceStartEvent:
                    node = SequenceNode(_SEQ, [], event.start_mark, None, event.flow_style)
                else:
                    node = MappingNode(_MAP, [], event.start_mark, None, event.flow_style)
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
                # end marks are not kept: nothing reports them, and they double the marks held
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
