"""Host-key checking with OpenSSH semantics, known_hosts read once per run.

``strict`` refuses a host whose key is not in known_hosts. ``accept-new`` adds the key of a host
it has never seen (and writes it to known_hosts), but a key that differs from the recorded one
is always refused — there is no policy that accepts a changed key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path

import paramiko

from dcctl.transport.base import HostKeyError


def host_id(hostname: str, port: int) -> str:
    """The known_hosts name of a host: ``name`` on port 22, else ``[name]:port``."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class KnownHosts:
    """The user's and the system's known_hosts, loaded once and shared by every connection."""

    def __init__(
        self,
        user_file: Path | None = None,
        system_file: Path | None = Path("/etc/ssh/ssh_known_hosts"),
    ) -> None:
        """Load the files (missing files are fine; unreadable lines are skipped by paramiko)."""
        self.user_file = user_file or Path(os.path.expanduser("~/.ssh/known_hosts"))
        self.keys = paramiko.HostKeys()
        for path in (system_file, self.user_file):
            if path is not None and path.is_file():
                try:
                    self.keys.load(str(path))
                except (OSError, paramiko.SSHException):
                    continue
        self.lock = threading.Lock()
        # paramiko's lookup scans every entry (hashing for hashed names) on each call; index
        # the plain names once, and scan only when hashed entries exist and the index misses.
        self.index: dict[str, dict[str, paramiko.PKey]] = {}
        self.hashed = False
        for entry in self.keys._entries:  # type: ignore[attr-defined]  # private, not in stubs
            for name in entry.hostnames:
                if name.startswith("|1|"):
                    self.hashed = True
                    continue
                self.index.setdefault(name, {})[entry.key.get_name()] = entry.key

    def _lookup(self, name: str) -> dict[str, paramiko.PKey] | None:
        entry = self.index.get(name)
        if entry is not None or not self.hashed:
            return entry
        found = self.keys.lookup(name)
        return dict(found) if found else None

    def known_types(self, hostname: str, port: int) -> list[str]:
        """Key types recorded for a host (so the key exchange can ask for one of those)."""
        with self.lock:
            entry = self._lookup(host_id(hostname, port))
        return list(entry.keys()) if entry else []

    def check(self, hostname: str, port: int, key: paramiko.PKey, policy: str) -> None:
        """Accept the key or raise :class:`HostKeyError`; ``accept-new`` records new hosts."""
        name = host_id(hostname, port)
        with self.lock:
            entry = self._lookup(name)
            if entry is None:
                if policy != "accept-new":
                    raise HostKeyError(
                        f"unknown host key for {name} ({key.get_name()} {fingerprint(key)}); "
                        "host_key_policy is strict: add it to known_hosts "
                        "(ssh-keyscan) or set host_key_policy: accept-new"
                    )
                self.keys.add(name, key.get_name(), key)
                self.index.setdefault(name, {})[key.get_name()] = key
                self._append(name, key)
                return
            recorded = entry.get(key.get_name())
            if recorded is None or recorded != key:
                was = f" (known_hosts has {', '.join(entry.keys())})" if recorded is None else ""
                raise HostKeyError(
                    f"HOST KEY CHANGED for {name}: it now offers {key.get_name()} "
                    f"{fingerprint(key)}{was}; refusing to connect. If the change is expected, "
                    f"remove the old key: ssh-keygen -R '{name}'"
                )

    def _append(self, name: str, key: paramiko.PKey) -> None:
        path = self.user_file
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with path.open("a") as fh:
            fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
