"""What a value from a playbook may be before it reaches a command line.

Values land in argv lists (never in shell text), but a value that starts with ``-`` would still be
read as an option by the tool that receives it (``sysctl -n --load=FILE`` loads a file), a
relative path or ``..`` escapes where it was meant to point, and a newline or NUL in a name
splits or truncates it. Each field that reaches a command has a rule here; the playbook reader
checks literal values with their file:line, and the resource builder checks every value again
after ``{{ vars }}`` are substituted for a host.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: A kernel parameter as sysctl(8) names it: dotted (or slashed) words, no leading dash.
SYSCTL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@+/-]*$")
#: An octal file mode as chmod takes it.
OCTAL_MODE = re.compile(r"^0?[0-7]{3,4}$")
#: user or user:group, the POSIX portable names (and numeric ids).
OWNER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
#: A network interface name as the kernel allows (IFNAMSIZ 16, no '/', no whitespace).
INTERFACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$")
#: A systemd unit, a package, a kernel module: a word that is never an option.
UNIT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@:+\\-]*$")
PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+:~-]*$")
MODULE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
#: Longest name or path accepted (PATH_MAX).
MAX_PATH = 4096
#: Longest content or value accepted (a sysctl value, a line).
MAX_VALUE = 1 << 20

Check = Callable[[str], str | None]


def _shown(value: str) -> str:
    text = value if len(value) <= 60 else value[:57] + "..."
    return repr(text)


def _plain(value: str, what: str) -> str | None:
    """No NUL, no newline, not empty, not an option."""
    if not value:
        return f"{what} must not be empty"
    if "\0" in value:
        return f"{what} must not contain a NUL byte"
    if "\n" in value or "\r" in value:
        return f"{what} must be one line"
    if value.startswith("-"):
        return f"{what} must not start with '-' (it would be read as an option): {_shown(value)}"
    return None


def absolute_path(value: str) -> str | None:
    """An absolute path without NUL, newline, ``..`` or a trailing ``/``."""
    if problem := _plain(value, "path"):
        return problem
    if len(value) > MAX_PATH:
        return f"path is longer than {MAX_PATH} characters"
    if not value.startswith("/"):
        return f"path must be absolute (start with '/'), got {_shown(value)}"
    if ".." in value.split("/"):
        return f"path must not contain '..', got {_shown(value)}"
    if value != "/" and value.endswith("/"):
        return f"path must name a file, not end with '/': {_shown(value)}"
    return None


def _pattern(pattern: re.Pattern[str], what: str, example: str) -> Check:
    def check(value: str) -> str | None:
        if problem := _plain(value, what):
            return problem
        if len(value) > MAX_PATH or not pattern.match(value):
            return f"{_shown(value)} is not a valid {what} (for example {example})"
        return None

    return check


def sysctl_name(value: str) -> str | None:
    """``net.core.rmem_max`` (or ``net/core/rmem_max``); never ``..``."""
    if problem := _pattern(SYSCTL_NAME, "sysctl name", "net.core.rmem_max")(value):
        return problem
    if ".." in value.replace("/", ".").split(".") or "//" in value:
        return f"{_shown(value)} is not a valid sysctl name (for example net.core.rmem_max)"
    return None


def one_line(value: str) -> str | None:
    """A value that goes into a one-line setting: no NUL, no newline, bounded."""
    if "\0" in value:
        return "value must not contain a NUL byte"
    if "\n" in value or "\r" in value:
        return "value must be one line"
    if len(value) > MAX_VALUE:
        return f"value is longer than {MAX_VALUE:,} characters"
    return None


def content(value: str) -> str | None:
    """File content: any text but NUL, bounded."""
    if "\0" in value:
        return "content must not contain a NUL byte (files are written as text)"
    if len(value) > MAX_VALUE * 16:
        return f"content is longer than {MAX_VALUE * 16:,} characters"
    return None


def argument(value: str) -> str | None:
    """One argument of a ``command`` resource: anything but NUL (argv cannot carry it)."""
    return "argument must not contain a NUL byte" if "\0" in value else None


#: (resource type, field) → its check. Fields not listed carry no text to a command.
CHECKS: dict[tuple[str, str], Check] = {
    ("file", "path"): absolute_path,
    ("file", "content"): content,
    ("file", "mode"): _pattern(OCTAL_MODE, "file mode", "'0644'"),
    ("file", "owner"): _pattern(OWNER, "owner", "root or root:adm"),
    ("line", "path"): absolute_path,
    ("line", "line"): one_line,
    ("sysctl", "name"): sysctl_name,
    ("sysctl", "value"): one_line,
    ("sysctl", "file"): absolute_path,
    ("command", "creates"): absolute_path,
    ("service", "name"): _pattern(UNIT, "unit name", "nvidia-persistenced"),
    ("package", "name"): _pattern(PACKAGE, "package name", "rdma-core"),
    ("kernel_module", "name"): _pattern(MODULE, "module name", "nvidia_peermem"),
    ("mtu", "interface"): _pattern(INTERFACE, "interface name", "ens1f0np0"),
}


def check_value(kind: str, field: str, value: str) -> str | None:
    """What is wrong with a value for ``kind.field`` (None when it may reach a command)."""
    check = CHECKS.get((kind, field))
    return check(value) if check is not None else None
