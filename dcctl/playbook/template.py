"""``{{ name }}`` substitution from playbook vars, remembering which secrets a value used."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dcctl.errors import PlaybookError

VAR_PATTERN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Vars:
    """Playbook variables; names in ``secret`` are never displayed."""

    values: Mapping[str, object]
    secret: frozenset[str] = frozenset()


def render(text: str, variables: Vars) -> tuple[str, frozenset[str]]:
    """Substitute variables; return the text and the secret values it now contains."""
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables.values:
            raise PlaybookError(f"unknown variable '{{{{ {name} }}}}'")
        value = str(variables.values[name])
        if name in variables.secret:
            used.add(value)
        return value

    return VAR_PATTERN.sub(replace, text), frozenset(used)
