"""The security probe: effective sshd settings, listening sockets, writable dirs in PATH."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dcctl.probes.base import Outputs, Step, recogniser, register

ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PATH_DIRS = f'(IFS=:; stat -Lc "%a %U %n" $PATH:{ROOT_PATH} 2>/dev/null); true'
#: sshd settings worth reporting (``sshd -T`` prints them lower-case).
SSHD_KEYS = (
    "permitrootlogin",
    "passwordauthentication",
    "kbdinteractiveauthentication",
    "challengeresponseauthentication",
    "pubkeyauthentication",
    "permitemptypasswords",
    "x11forwarding",
    "port",
)


@dataclass
class Listener:
    """A listening socket."""

    proto: str
    address: str
    port: int | None
    process: str | None = None


@dataclass
class PathDir:
    """A directory on root's PATH with its mode and owner."""

    path: str
    mode: str
    owner: str

    @property
    def world_writable(self) -> bool:
        """Others may write and the sticky bit is not set."""
        bits = int(self.mode, 8)
        return bool(bits & 0o002) and not bits & 0o1000


@dataclass
class SecurityReport:
    """Security posture facts of a host."""

    sshd: dict[str, str] = field(default_factory=dict)
    sshd_error: str | None = None
    listeners: list[Listener] = field(default_factory=list)
    path_dirs: list[PathDir] = field(default_factory=list)


class SecurityProbe:
    """sshd -T, listening sockets, PATH directory permissions."""

    name: str = "security"
    steps: tuple[Step, ...] = (
        Step("sec.sshd", "sshd -T 2>&1", recogniser(r"^sshd -T")),
        # No -p: naming the owning processes means reading every /proc/*/fd on the host.
        Step("sec.listen", "ss -Hltnu 2>/dev/null || ss -ltnu", recogniser(r"^ss -")),
        Step("sec.path", PATH_DIRS, recogniser(r"stat -Lc"), timeout=10, guarded=True),
    )

    def summarize(self, result: SecurityReport) -> str:
        """One line for folding identical hosts (see :func:`summarize_security`)."""
        return summarize_security(result)

    def parse(self, outputs: Outputs) -> SecurityReport:
        """Collect what each output shows."""
        report = SecurityReport()
        if (out := outputs.get("sec.sshd")) is not None:
            if out.ok:
                report.sshd = parse_sshd(out.text)
            else:
                first = next((x for x in out.text.splitlines() if x.strip()), "no output")
                report.sshd_error = "sshd not installed" if out.missing_tool else first.strip()
        if (out := outputs.get("sec.listen")) is not None and out.ok:
            report.listeners = parse_ss(out.text)
        if (out := outputs.get("sec.path")) is not None:
            report.path_dirs = parse_path_dirs(out.text)
        return report


def parse_sshd(text: str) -> dict[str, str]:
    """The reported subset of ``sshd -T`` (first value wins, as in sshd)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key in SSHD_KEYS and key not in out:
            out[key] = value.strip()
    return out


_ENDPOINT = re.compile(r"^(.*):(\d+|\*)$")


def parse_ss(text: str) -> list[Listener]:
    """Listening sockets from ``ss -Hltnup`` (or ``ss -ltnu`` with a header)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[0] == "Netid":
            continue
        proto = parts[0]
        local = parts[4] if parts[1] in ("LISTEN", "UNCONN") else parts[3]
        m = _ENDPOINT.match(local)
        if not m:
            continue
        address, port = m.group(1), m.group(2)
        process = None
        users = re.search(r'users:\(\("([^"]+)"', line)
        if users:
            process = users.group(1)
        out.append(
            Listener(proto, address.strip("[]"), int(port) if port.isdigit() else None, process)
        )
    return out


def parse_path_dirs(text: str) -> list[PathDir]:
    """``stat -Lc '%a %U %n'`` lines; duplicates (a dir listed twice in PATH) once."""
    seen: dict[str, PathDir] = {}
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and re.fullmatch(r"[0-7]{3,4}", parts[0]):
            seen.setdefault(parts[2], PathDir(parts[2], parts[0], parts[1]))
    return list(seen.values())


def summarize_security(r: SecurityReport) -> str:
    """Root-login and password settings of sshd, and listening sockets."""
    if r.sshd:
        sshd = (
            f"sshd root login {r.sshd.get('permitrootlogin', '?')}, "
            f"passwords {r.sshd.get('passwordauthentication', '?')}"
        )
    else:
        sshd = f"sshd: {r.sshd_error or 'no settings'}"
    return f"{sshd}; {len(r.listeners)} listening sockets"


register(SecurityProbe(), order=50)
