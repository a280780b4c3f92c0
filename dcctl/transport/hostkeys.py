"""Host-key checking with OpenSSH semantics, known_hosts read once per run.

``strict`` refuses a host whose key is not in known_hosts. ``accept-new`` adds the key of a host
it has never seen (and writes it to known_hosts), but a key that differs from the recorded one
is always refused — there is no policy that accepts a changed key.

known_hosts is read as OpenSSH reads it (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): comma-separated
patterns with ``*`` and ``?`` wildcards and ``!`` negation, ``[host]:port`` for other ports,
hashed names (``|1|salt|hash``), and the ``@revoked`` marker (that key is refused for the hosts it
names, whatever else is recorded). ``@cert-authority`` lines are skipped with a warning: dcctl
does not check host certificates, so a host known only through a CA is unknown here. A line that
cannot be read is skipped with a warning naming its file and line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import paramiko

from dcctl.transport.base import HostKeyError

log = logging.getLogger("dcctl.hostkeys")
_WILDCARD = re.compile(r"[*?]")


def host_id(hostname: str, port: int) -> str:
    """The known_hosts name of a host: ``name`` on port 22, else ``[name]:port``."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class KnownEntry:
    """One known_hosts line: its patterns, key, marker and where it was read."""

    patterns: tuple[str, ...]
    key_type: str
    key_blob: bytes
    marker: str | None  # None or "revoked"
    where: str  # file:line

    def matches(self, name: str) -> bool:
        """OpenSSH's match: some positive pattern matches and no negated one does."""
        matched = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            pattern = pattern[1:] if negated else pattern
            if _pattern_matches(pattern, name):
                if negated:
                    return False
                matched = True
        return matched


def _pattern_matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        return _hashed_matches(pattern, name)
    if _WILDCARD.search(pattern):
        return _wildcard(pattern).fullmatch(name.lower()) is not None
    return pattern.lower() == name.lower()


@lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """OpenSSH's match_pattern: ``*`` and ``?`` only; brackets and the rest are literal."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.compile("".join(parts), re.DOTALL)


def _hashed_matches(pattern: str, name: str) -> bool:
    try:
        _, _, salt_b64, hash_b64 = pattern.split("|")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
    except (ValueError, binascii.Error):
        return False
    actual = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(actual, expected)


def parse_known_hosts(text: str, display: str) -> tuple[list[KnownEntry], list[str]]:
    """Entries of a known_hosts file, and a warning for each line skipped."""
    entries: list[KnownEntry] = []
    warnings: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{display}:{number}"
        fields = line.split()
        marker = None
        if fields[0].startswith("@"):
            marker = fields[0][1:]
            fields = fields[1:]
            if marker == "cert-authority":
                warnings.append(
                    f"{where}: @cert-authority skipped (dcctl does not check host certificates; "
                    "hosts known only through this CA are unknown to dcctl)"
                )
                continue
            if marker != "revoked":
                warnings.append(f"{where}: unknown marker '@{marker}': line skipped")
                continue
        if len(fields) < 3:
            warnings.append(f"{where}: not 'hosts keytype key': line skipped")
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (ValueError, binascii.Error):
            warnings.append(f"{where}: the key is not valid base64: line skipped")
            continue
        patterns = tuple(p for p in fields[0].split(",") if p)
        entries.append(KnownEntry(patterns, fields[1], blob, marker, where))
    return entries, warnings


class KnownHosts:
    """The user's and the system's known_hosts, loaded once and shared by every connection."""

    def __init__(
        self,
        user_file: Path | None = None,
        system_file: Path | None = Path("/etc/ssh/ssh_known_hosts"),
    ) -> None:
        """Load the files (missing files are fine; lines that cannot be read are warned of)."""
        self.user_file = user_file or Path(os.path.expanduser("~/.ssh/known_hosts"))
        self.lock = threading.Lock()
        self.entries: list[KnownEntry] = []
        self.warnings: list[str] = []
        for path in (system_file, self.user_file):
            if path is None or not path.is_file():
                continue
            try:
                text = path.read_text(errors="replace")
            except OSError as exc:
                self.warnings.append(f"{path}: cannot read: {exc.strerror or exc}")
                continue
            entries, warnings = parse_known_hosts(text, str(path))
            self.entries += entries
            self.warnings += warnings
        for warning in self.warnings:
            log.warning("known_hosts: %s", warning)
        # Plain names are indexed (one dict lookup per host); entries with wildcards, negations
        # or hashed names, and revocations, are scanned.
        self.index: dict[str, list[KnownEntry]] = {}
        self.scanned: list[KnownEntry] = []
        for entry in self.entries:
            plain = entry.marker is None and all(
                not p.startswith(("|1|", "!")) and not _WILDCARD.search(p) for p in entry.patterns
            )
            if plain:
                for pattern in entry.patterns:
                    self.index.setdefault(pattern.lower(), []).append(entry)
            else:
                self.scanned.append(entry)

    def _matching(self, name: str) -> tuple[dict[str, list[bytes]], set[bytes]]:
        """Recorded keys by type, and revoked key blobs, for a host id."""
        known: dict[str, list[bytes]] = {}
        revoked: set[bytes] = set()
        for entry in [*self.index.get(name.lower(), ()), *self.scanned]:
            if not entry.matches(name):
                continue
            if entry.marker == "revoked":
                revoked.add(entry.key_blob)
            else:
                known.setdefault(entry.key_type, []).append(entry.key_blob)
        return known, revoked

    def known_types(self, hostname: str, port: int) -> list[str]:
        """Key types recorded for a host (so the key exchange can ask for one of those)."""
        with self.lock:
            known, _ = self._matching(host_id(hostname, port))
        return list(known)

    def check(self, hostname: str, port: int, key: paramiko.PKey, policy: str) -> None:
        """Accept the key or raise :class:`HostKeyError`; ``accept-new`` records new hosts."""
        name = host_id(hostname, port)
        offered = key.asbytes()
        with self.lock:
            known, revoked = self._matching(name)
            if offered in revoked:
                raise HostKeyError(
                    f"REVOKED host key for {name}: {key.get_name()} {fingerprint(key)} is marked "
                    "@revoked in known_hosts; refusing to connect"
                )
            if not known:
                if policy != "accept-new":
                    raise HostKeyError(
                        f"unknown host key for {name} ({key.get_name()} {fingerprint(key)}); "
                        "host_key_policy is strict: add it to known_hosts "
                        "(ssh-keyscan) or set host_key_policy: accept-new"
                    )
                self._append(name, key)
                return
            if offered not in known.get(key.get_name(), []):
                recorded = ", ".join(sorted(known))
                raise HostKeyError(
                    f"HOST KEY CHANGED for {name}: it now offers {key.get_name()} "
                    f"{fingerprint(key)} (known_hosts has {recorded} for it); refusing to "
                    f"connect. If the change is expected, remove the old key: "
                    f"ssh-keygen -R '{name}'"
                )

    def _append(self, name: str, key: paramiko.PKey) -> None:
        entry = KnownEntry((name,), key.get_name(), key.asbytes(), None, str(self.user_file))
        self.index.setdefault(name.lower(), []).append(entry)
        self.entries.append(entry)
        path = self.user_file
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with path.open("a") as fh:
            fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
