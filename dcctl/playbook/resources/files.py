"""``file`` (content, mode, owner) and ``line`` (a line present in, or absent from, a file)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from dcctl.model.command import Command
from dcctl.playbook.model import Change, Outcome
from dcctl.playbook.resources.base import file_text, read_file, write_file
from dcctl.playbook.resources.types import FieldSpec, ResourceType, register
from dcctl.probes.base import Output


def unified(path: str, before: str, after: str) -> str:
    """A unified diff with ``before``/``after`` headers."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{path} (before)",
            tofile=f"{path} (after)",
        )
    )


@dataclass(frozen=True)
class FileResource:
    """A file with exactly this content (and, if given, this mode and owner)."""

    path: str
    content: str
    mode: str | None = None  # octal, e.g. "0644"
    owner: str | None = None  # user or user:group
    secrets: frozenset[str] = frozenset()

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``file /etc/foo.conf``."""
        return f"file {self.path}"

    def reads(self) -> dict[str, Command]:
        """Content and metadata."""
        return {
            "content": read_file(self.path),
            "meta": Command.of(["stat", "-c", "%a %U:%G", "--", self.path]),
        }

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Create, rewrite, chmod or chown as needed."""
        current = file_text(outputs.get("content"), self.path)
        meta = outputs.get("meta")
        mode, owner = "", ""
        if meta is not None and meta.ok:
            mode, owner = [*meta.text.split(), "", ""][:2]
        commands: list[Command] = []
        parts = []
        if current != self.content:
            commands.append(write_file(self.path, self.content))
            parts.append("created" if current is None else "content differs")
        want_mode = (self.mode.lstrip("0") or "0") if self.mode else None  # stat prints 644
        if self.mode and want_mode is not None and (current is None or mode != want_mode):
            commands.append(Command.of(["chmod", "--", self.mode, self.path]))
            parts.append(f"mode {mode or '-'} → {want_mode}")
        if self.owner and (current is None or _owner_differs(owner, self.owner)):
            commands.append(Command.of(["chown", "--", self.owner, self.path]))
            parts.append(f"owner {owner or '-'} → {self.owner}")
        if not commands:
            return Outcome(self.label(), None, "content, mode and owner as desired")
        before = current if current is not None else ""
        diff = unified(self.path, before, self.content) if current != self.content else ""
        return Outcome(
            self.label(),
            Change(
                self.label(),
                before="(absent)" if current is None else before,
                after=self.content,
                reason="; ".join(parts),
                diff=diff,
                commands=tuple(commands),
                secrets=self.secrets,
            ),
        )


def _owner_differs(current: str, wanted: str) -> bool:
    user, _, group = wanted.partition(":")
    cur_user, _, cur_group = current.partition(":")
    return user != cur_user or bool(group and group != cur_group)


@dataclass(frozen=True)
class LineResource:
    """A line present in (appended if missing) or absent from (every copy removed) a file."""

    path: str
    line: str
    present: bool = True
    secrets: frozenset[str] = frozenset()

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``line /etc/hosts: 10.0.0.1 db``."""
        return f"line {self.path}: {self.line}"

    def reads(self) -> dict[str, Command]:
        """The file's content."""
        return {"content": read_file(self.path)}

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Append or remove the line."""
        current = file_text(outputs.get("content"), self.path)
        lines = (current or "").splitlines()
        if self.present:
            if self.line in lines:
                return Outcome(self.label(), None, "line present")
            text = current or ""
            after = text + ("" if not text or text.endswith("\n") else "\n") + self.line + "\n"
            reason = "line missing" if current is not None else "file absent: created with the line"
        else:
            if current is None or self.line not in lines:
                return Outcome(self.label(), None, "line absent")
            kept = [x for x in lines if x != self.line]
            after = "\n".join(kept) + ("\n" if kept else "")
            reason = f"line present {lines.count(self.line)}×"
        before = current or ""
        return Outcome(
            self.label(),
            Change(
                self.label(),
                before=before,
                after=after,
                reason=reason,
                diff=unified(self.path, before, after),
                commands=(write_file(self.path, after),),
                secrets=self.secrets,
            ),
        )


register(
    ResourceType(
        "file",
        "a file with exactly this content (and this mode and owner)",
        (
            FieldSpec("path", "string", "absolute path", required=True),
            FieldSpec("content", "text", "the whole content", required=True),
            FieldSpec("mode", "string", "octal mode such as '0644'"),
            FieldSpec("owner", "string", "user or user:group"),
        ),
        lambda v: FileResource(v["path"], v["content"], v.get("mode"), v.get("owner")),
    )
)
register(ResourceType(
    "line", "a line present in (appended) or absent from (every copy removed) a file",
    (
        FieldSpec("path", "string", "absolute path", required=True),
        FieldSpec("line", "text", "the whole line", required=True),
        FieldSpec("state", "choice", "present or absent", default="present",
                  choices=("present", "absent")),
    ),
    lambda v: LineResource(v["path"], v["line"], v.get("state", "present") == "present"),
))  # fmt: skip
