"""``sysctl`` (runtime value and a line in a sysctl.d file) and ``command`` (with guards)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from dcctl.errors import PlaybookError
from dcctl.model.command import Command
from dcctl.playbook.model import Change, Outcome
from dcctl.playbook.resources.base import file_text, read_failure, read_file, write_file
from dcctl.playbook.resources.files import unified
from dcctl.playbook.resources.types import FieldSpec, ResourceType, register
from dcctl.probes.base import Output


def _norm(value: str) -> str:
    return " ".join(value.split())


@dataclass(frozen=True)
class SysctlResource:
    """A kernel parameter: set now (``runtime``) and persisted as ``name = value`` in ``file``."""

    name: str
    value: str
    file: str | None = "/etc/sysctl.d/90-dcctl.conf"
    runtime: bool = True
    secrets: frozenset[str] = frozenset()

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``sysctl net.core.rmem_max``."""
        return f"sysctl {self.name}"

    def reads(self) -> dict[str, Command]:
        """The running value and the persisted file."""
        reads = {}
        if self.runtime:
            reads["runtime"] = Command.of(["sysctl", "-n", "--", self.name])
        if self.file:
            reads["file"] = read_file(self.file)
        return reads

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Set at runtime and/or rewrite the file's line for this key."""
        want = _norm(self.value)
        commands: list[Command] = []
        befores, afters, reasons = [], [], []
        diff = ""
        runtime = outputs.get("runtime")
        if self.runtime:
            if runtime is None or not runtime.ok:
                why = read_failure(runtime) if runtime is not None else "no output"
                raise PlaybookError(f"cannot read sysctl {self.name}: {why}")
            now: str | None = _norm(runtime.text)
            if now != want:
                commands.append(Command.of(["sysctl", "-w", "--", f"{self.name}={self.value}"]))
                befores.append(f"runtime {now if now is not None else '(unknown)'}")
                afters.append(f"runtime {want}")
                reasons.append("running value differs")
        if self.file:
            current = file_text(outputs.get("file"), self.file)
            updated = _with_setting(current or "", self.name, want)
            if current != updated:
                commands.append(write_file(self.file, updated))
                befores.append(f"{self.file}: {_setting(current or '', self.name) or '(unset)'}")
                afters.append(f"{self.file}: {want}")
                reasons.append(f"{self.file} differs")
                diff = unified(self.file, current or "", updated)
        if not commands:
            return Outcome(self.label(), None, f"already {want}")
        return Outcome(
            self.label(),
            Change(
                self.label(),
                "; ".join(befores),
                "; ".join(afters),
                "; ".join(reasons),
                tuple(commands),
                self.secrets,
                diff,
            ),
        )


def _key_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(name)}\s*=\s*(.*?)\s*$")


def _setting(text: str, name: str) -> str | None:
    pattern = _key_pattern(name)
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            return _norm(m.group(1))
    return None


def _with_setting(text: str, name: str, value: str) -> str:
    """The file with ``name = value``: the first line for the key replaced, later ones dropped."""
    pattern = _key_pattern(name)
    out, done = [], False
    for line in text.splitlines():
        if pattern.match(line):
            if not done:
                out.append(f"{name} = {value}")
                done = True
            continue
        out.append(line)
    if not done:
        out.append(f"{name} = {value}")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class CommandResource:
    """Run a command (as argv, never through a shell) unless a guard says it is done.

    ``creates``: skip when this path exists; ``unless``: skip when this command succeeds.
    """

    argv: tuple[str, ...]
    creates: str | None = None
    unless: tuple[str, ...] | None = None
    secrets: frozenset[str] = frozenset()
    secret_args: frozenset[int] = frozenset()

    @property
    def verifiable(self) -> bool:
        """Only a guarded command can be checked afterwards (its guard must then hold)."""
        return bool(self.creates or self.unless)

    def label(self) -> str:
        """``command touch /x`` (secret arguments masked)."""
        return f"command {Command.of(self.argv, self.secret_args).display()}"

    def reads(self) -> dict[str, Command]:
        """The guards, which must be read-only."""
        reads = {}
        if self.creates:
            reads["creates"] = Command.of(["test", "-e", self.creates])
        if self.unless:
            reads["unless"] = Command.of(self.unless)
        return reads

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Run unless a guard holds."""
        creates, unless = outputs.get("creates"), outputs.get("unless")
        if creates is not None and creates.ok:
            return Outcome(self.label(), None, f"{self.creates} exists")
        if unless is not None and unless.ok:
            return Outcome(self.label(), None, "the unless command succeeded")
        why = "no guard" if not (self.creates or self.unless) else "guard not met"
        return Outcome(
            self.label(),
            Change(
                self.label(),
                "(not run)",
                "(run)",
                why,
                (Command.of(self.argv, self.secret_args),),
                self.secrets,
            ),
        )


#: Where a sysctl is persisted when the playbook does not say.
DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/90-dcctl.conf"

register(
    ResourceType(
        "sysctl",
        "a kernel parameter: set now and persisted in a sysctl.d file",
        (
            FieldSpec("name", "string", "the key, such as net.core.rmem_max", required=True),
            FieldSpec("value", "text", "one value (a scalar)", required=True),
            FieldSpec(
                "file",
                "string_or_false",
                "where it is persisted (false: nowhere)",
                default=DEFAULT_SYSCTL_FILE,
            ),
            FieldSpec("runtime", "bool", "set the running value too", default=True),
        ),
        lambda v: SysctlResource(
            v["name"], v["value"], v.get("file", DEFAULT_SYSCTL_FILE), v.get("runtime", True)
        ),
    )
)
register(ResourceType(
    "command", "a command run (as argv, never through a shell) unless a guard says it is done",
    (
        FieldSpec("argv", "argv", "the command as a list of words"),
        FieldSpec("command", "argv", "the command as one string, split like a shell would"),
        FieldSpec("creates", "string", "skip when this absolute path exists"),
        FieldSpec("unless", "argv", "skip when this command succeeds (it runs in a dry-run too)"),
    ),
    lambda v: CommandResource(tuple(v.get("argv") or v.get("command") or ()), v.get("creates"),
                              tuple(v["unless"]) if v.get("unless") else None),
    one_of=(("argv", "command"),),
))  # fmt: skip
