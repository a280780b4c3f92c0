"""Resolving host references written in racks, PDUs, domains and groups."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from dcctl.errors import NodeSetError
from dcctl.model.nodeset import expand, split_items
from dcctl.source.diagnostics import Diagnostics, Loc, did_you_mean


def expand_host_refs(
    refs: Iterable[tuple[str, Loc]],
    path: str,
    known: Mapping[str, object] | set[str],
    diags: Diagnostics,
    *,
    allow_globs: bool = False,
) -> list[str]:
    """Expand patterns to host names, reporting unknown hosts and empty globs at each entry.

    Returns the known names, in order and without duplicates.
    """
    out: dict[str, None] = {}
    for text, loc in refs:
        try:
            items = split_items(text)
            expanded = [(item, offset, expand(item)) for item, offset in items]
        except NodeSetError as exc:
            diags.error(loc, path, str(exc))
            continue
        for item, offset, names in expanded:
            here = Loc(loc.file, loc.line, loc.col + offset)
            if allow_globs and any(c in item for c in "*?"):
                matched = [h for pat in names for h in known if fnmatch.fnmatchcase(h, pat)]
                if not matched:
                    diags.error(here, path, f"'{item}' matches no host")
                out.update(dict.fromkeys(matched))
                continue
            unknown = [n for n in names if n not in known]
            if unknown:
                more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
                hint = did_you_mean(unknown[0], known) if len(known) <= 20_000 else ""
                diags.error(here, path, f"unknown host '{unknown[0]}'{more}{hint}")
            out.update(dict.fromkeys(n for n in names if n in known))
    return list(out)
