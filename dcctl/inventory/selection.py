"""Host selection (``--limit``): node ranges, groups, globs and set algebra, like ClusterShell.

Grammar (operators apply left to right; parentheses group)::

    expr  := term (op term)*
    op    := ","  "|"         union
           | "&"              intersection
           | "!"  " - "       difference (a hyphen is an operator only with spaces around it)
           | "^"              symmetric difference
    term  := "(" expr ")" | "@" group | glob | node-range pattern

Examples: ``gpu[001-064]``, ``@rack-a1``, ``@h100 - gpu005``, ``gpu* & @rack-b``,
``@rack:rack-a1`` (a group by kind), ``all`` or ``*`` for every host.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from dcctl.errors import NodeSetError, SelectionError
from dcctl.model.nodeset import NodeSet, expand
from dcctl.source.diagnostics import did_you_mean

if TYPE_CHECKING:
    from dcctl.inventory.model import Inventory

_OPS: dict[str, Callable[[NodeSet, NodeSet], NodeSet]] = {
    ",": NodeSet.__or__,
    "|": NodeSet.__or__,
    "&": NodeSet.__and__,
    "!": NodeSet.__sub__,
    "-": NodeSet.__sub__,
    "^": NodeSet.__xor__,
}
_SINGLE_OPS = ",|&!^"


class GroupIndex:
    """Resolves group names: user groups first, then auto groups (racks, PDUs, profiles, ...).

    Auto groups may be named plainly when unique (``@rack-a1``) or with their kind
    (``@rack:rack-a1``).
    """

    def __init__(
        self,
        groups: Mapping[str, NodeSet],
        auto_groups: Mapping[str, Mapping[str, NodeSet]],
        all_hosts: NodeSet,
    ) -> None:
        """Index user groups and auto groups (``kind -> name -> hosts``)."""
        self.groups = groups
        self.auto_groups = auto_groups
        self.all_hosts = all_hosts

    def names(self) -> list[str]:
        """Every name a user may write after ``@``."""
        out = list(self.groups)
        for kind, members in self.auto_groups.items():
            out.extend(members)
            out.extend(f"{kind}:{name}" for name in members)
        return out

    def resolve(self, name: str) -> NodeSet:
        """The hosts of a group; raises :class:`SelectionError` naming the unknown group."""
        if name in ("all", "*"):
            return self.all_hosts
        if name in self.groups:
            return self.groups[name]
        if ":" in name:
            kind, _, short = name.partition(":")
            members = self.auto_groups.get(kind)
            if members is None:
                kinds = ", ".join(sorted(self.auto_groups))
                raise SelectionError(f"unknown group kind '{kind}' in '@{name}' (kinds: {kinds})")
            if short in members:
                return members[short]
            raise SelectionError(f"unknown {kind} '{short}'{did_you_mean(short, members)}")
        found = [(kind, m[name]) for kind, m in self.auto_groups.items() if name in m]
        if len(found) == 1:
            return found[0][1]
        if len(found) > 1:
            options = " or ".join(f"@{kind}:{name}" for kind, _ in found)
            raise SelectionError(f"group '@{name}' is ambiguous: write {options}")
        raise SelectionError(
            f"unknown group '@{name}'{did_you_mean(name, self.names(), prefix='@')}"
        )


def _tokens(expression: str) -> list[str]:
    """Split an expression into terms, operators and parentheses."""
    tokens: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()" or ch in _SINGLE_OPS:
            tokens.append(ch)
            i += 1
            continue
        if ch == "-" and (i + 1 == n or expression[i + 1].isspace()) and tokens:
            tokens.append("-")
            i += 1
            continue
        start, depth = i, 0
        while i < n:
            ch = expression[i]
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            elif not depth and (ch.isspace() or ch in "()" or ch in _SINGLE_OPS):
                break
            i += 1
        tokens.append(expression[start:i])
    return tokens


class _Parser:
    def __init__(self, expression: str, resolve_term: Callable[[str], NodeSet]) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.pos = 0
        self.resolve_term = resolve_term

    def parse(self) -> NodeSet:
        if not self.tokens:
            raise SelectionError("empty host selection")
        result = self.expr()
        if self.pos != len(self.tokens):
            raise SelectionError(
                f"unexpected '{self.tokens[self.pos]}' in selection '{self.expression}'"
            )
        return result

    def expr(self) -> NodeSet:
        result = self.term()
        while self.pos < len(self.tokens) and self.tokens[self.pos] in _OPS:
            op = self.tokens[self.pos]
            self.pos += 1
            result = _OPS[op](result, self.term())
        return result

    def term(self) -> NodeSet:
        if self.pos >= len(self.tokens):
            raise SelectionError(f"selection '{self.expression}' ends with an operator")
        token = self.tokens[self.pos]
        self.pos += 1
        if token == "(":
            inner = self.expr()
            if self.pos >= len(self.tokens) or self.tokens[self.pos] != ")":
                raise SelectionError(f"missing ')' in selection '{self.expression}'")
            self.pos += 1
            return inner
        if token in _OPS or token == ")":
            raise SelectionError(f"unexpected '{token}' in selection '{self.expression}'")
        return self.resolve_term(token)


def resolve_term(token: str, index: GroupIndex, known: Iterable[str] | None = None) -> NodeSet:
    """Hosts named by one term: ``@group``, a glob, or a node-range pattern of known hosts."""
    all_hosts = index.all_hosts
    if token.startswith("@"):
        return index.resolve(token[1:])
    if token in ("all", "*"):
        return all_hosts
    try:
        names = expand(token)
    except NodeSetError as exc:
        raise SelectionError(str(exc)) from None
    if any(c in token for c in "*?"):
        matched = {h for pat in names for h in all_hosts.names if fnmatch.fnmatchcase(h, pat)}
        return NodeSet.from_names(matched)
    unknown = [n for n in names if n not in all_hosts]
    if unknown:
        first = unknown[0]
        more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        hint = did_you_mean(first, known if known is not None else all_hosts.names)
        raise SelectionError(f"unknown host '{first}'{more}{hint}")
    return NodeSet.from_names(names)


def parse_selection(expression: str, index: GroupIndex) -> NodeSet:
    """Evaluate a selection expression against a group index (see the module docstring)."""
    return _Parser(expression, lambda token: resolve_term(token, index)).parse()


def select(inventory: Inventory, expression: str | None) -> NodeSet:
    """Hosts of an inventory matching an expression; every host when it is None or empty.

    Raises :class:`SelectionError` when the expression is malformed, names an unknown host or
    group, or matches nothing.
    """
    if expression is None or not expression.strip():
        return inventory.all_hosts
    groups = {name: group.hosts for name, group in inventory.groups.items()}
    index = GroupIndex(groups, inventory.auto_groups, inventory.all_hosts)
    result = parse_selection(expression, index)
    if not result:
        raise SelectionError(f"selection '{expression}' matches no host")
    return result


def evaluate_nodeset(expression: str, inventory: Inventory | None) -> NodeSet:
    """Evaluate a ``dcctl nodeset`` expression.

    Node ranges need not be inventory hosts; ``@group`` and globs are resolved against the
    inventory (an error without one).
    """
    index = None
    if inventory is not None:
        groups = {name: group.hosts for name, group in inventory.groups.items()}
        index = GroupIndex(groups, inventory.auto_groups, inventory.all_hosts)

    def term(token: str) -> NodeSet:
        if token.startswith("@") or any(c in token for c in "*?") or token == "all":
            if index is None:
                raise SelectionError(f"'{token}' needs an inventory (-i FILE) to resolve")
            return resolve_term(token, index)
        try:
            return NodeSet.from_names(expand(token))
        except NodeSetError as exc:
            raise SelectionError(str(exc)) from None

    return _Parser(expression, term).parse()
