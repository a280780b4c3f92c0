"""Finding and reading the files of one inventory: the root file and what it ``include:``s."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from dcctl.source.diagnostics import Diagnostics, Loc
from dcctl.source.reader import Fields, Source, compose_file

#: Top-level sections of an inventory file.
SECTIONS: tuple[str, ...] = (
    "version",
    "include",
    "defaults",
    "profiles",
    "hosts",
    "groups",
    "sites",
    "domains",
)
#: Sections only the root file may hold.
ROOT_ONLY: tuple[str, ...] = ("version", "defaults")
#: Most files one inventory may pull in.
MAX_FILES = 1000
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Document:
    """One inventory file's top-level sections."""

    source: Source
    fields: Fields
    is_root: bool


def _display(parent: Source | None, entry: str) -> str:
    if parent is None:
        return entry
    return os.path.normpath(os.path.join(os.path.dirname(parent.display), entry))


def read_documents(path: Path, display: str, diags: Diagnostics) -> list[Document]:
    """Read the root file and, depth first, every file it includes (globs allowed).

    Include cycles, missing files and globs that match nothing are reported at the
    ``include:`` entry that names them.
    """
    reader = _IncludeReader(diags)
    reader.visit(Source(path, display), ())
    return reader.documents


class _IncludeReader:
    """Depth-first reading of included files (a class: a recursive closure is a ref cycle)."""

    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.documents: list[Document] = []
        self.seen: set[Path] = set()

    def visit(self, source: Source, chain: tuple[tuple[str, Path], ...]) -> None:
        """Read one file, then the files it includes."""
        diags = self.diags
        self.seen.add(source.path.resolve())
        node = compose_file(source, diags)
        if node is None:
            return
        is_root = not chain
        fields = Fields(source, node, "", diags, SECTIONS)
        if not fields.ok:
            return
        self.documents.append(Document(source, fields, is_root))
        if is_root:
            version = fields.number("version", integer=True)
            if version is not None and version != SCHEMA_VERSION:
                fields.error("version", f"unsupported version {version} (this dcctl reads 1)")
        else:
            for key in ROOT_ONLY:
                if key in fields:
                    diags.error(
                        fields.key_loc(key), key, "may only be set in the top-level inventory file"
                    )
        here = (*chain, (source.display, source.path.resolve()))
        for entry, loc in fields.str_list("include") or []:
            for target, target_display in _expand_include(source, entry, loc, diags):
                real = target.resolve()
                if real in self.seen:
                    if real in {p for _, p in here}:
                        names = " → ".join([*(d for d, _ in here), target_display])
                        diags.error(loc, "include", f"include cycle: {names}")
                    else:
                        diags.error(loc, "include", f"'{target_display}' is included twice")
                    continue
                if len(self.seen) >= MAX_FILES:
                    diags.error(loc, "include", f"more than {MAX_FILES} included files")
                    return
                self.visit(Source(target, target_display), here)


def _expand_include(
    parent: Source, entry: str, loc: Loc, diags: Diagnostics
) -> list[tuple[Path, str]]:
    """Files named by one include entry, relative to the including file."""
    base = parent.directory
    pattern = os.path.expanduser(entry)
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    if glob.has_magic(full):
        matches = sorted(glob.glob(full))
        if not matches:
            diags.error(loc, "include", f"'{entry}' matches no file")
        return [(Path(m), _display(parent, os.path.relpath(m, base))) for m in matches]
    if not os.path.isfile(full):
        diags.error(loc, "include", f"included file '{entry}' does not exist")
        return []
    return [(Path(full), _display(parent, entry))]
