"""The run journal: ``<state dir>/runs/<run id>.jsonl``, one JSON event per line.

Secrets are masked before an event is written. A journal that cannot be written (a full disk)
raises :class:`JournalError`, which stops the rollout cleanly; a journal with a truncated or
corrupt line is still read: that line is reported and skipped, every good event is kept, so
``--resume`` continues from what is known to have happened.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcctl.errors import DcctlError, ExitCode, InputError
from dcctl.model.secrets import mask_data

#: A run id: what ``apply`` prints and ``--resume`` takes (a name, never a path).
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class JournalError(DcctlError):
    """The journal could not be written (full disk, read-only state directory, ...)."""

    exit_code = ExitCode.HOSTS_FAILED


def new_run_id() -> str:
    """``20261128-104235-3fa9c1``: sortable by start time, unique enough per machine."""
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def check_run_id(run_id: str) -> str:
    """The run id, or an InputError: letters, digits, ``.``, ``_``, ``-``; never a path."""
    if not RUN_ID.match(run_id) or ".." in run_id:
        raise InputError(
            f"--resume {run_id!r}: not a run id (such as 20261128-104235-3fa9c1); "
            "runs are named, never given as paths"
        )
    return run_id


def digest_files(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the files' bytes (in order): what a run was made from."""
    digest = hashlib.sha256()
    for path in paths:
        data = Path(path).read_bytes()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


@dataclass
class JournalRead:
    """The good events of a journal, and the lines that could not be read."""

    events: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)

    @property
    def finished_hosts(self) -> set[str]:
        """Hosts whose apply completed."""
        return {e["host"] for e in self.events if e.get("event") == "host_done"}

    @property
    def start(self) -> dict[str, Any] | None:
        """The first ``run_start`` event (what the run was made from)."""
        return next((e for e in self.events if e.get("event") == "run_start"), None)


class Journal:
    """Append-only events of one run."""

    def __init__(self, directory: Path, run_id: str, secrets: frozenset[str] = frozenset()) -> None:
        """The journal of ``run_id`` in ``directory`` (created on the first write).

        Every string of every event is masked against ``secrets`` before it is written.
        """
        self.directory = directory
        self.path = directory / f"{check_run_id(run_id)}.jsonl"
        self.secrets = secrets
        self.failure: str | None = None

    def write(self, event: str, host: str | None = None, **data: Any) -> None:
        """Append one event (flushed); raises JournalError when it cannot be written."""
        if self.failure is not None:
            raise JournalError(self.failure)
        record = {"time": round(time.time(), 3), "event": event, "host": host, **data}
        line = json.dumps(mask_data(record, self.secrets)) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as fh:
                fh.write(line)
                fh.flush()
        except OSError as exc:
            self.failure = f"journal {self.path}: {exc.strerror or exc}"
            raise JournalError(self.failure) from None

    def read(self) -> JournalRead:
        """Every event that parses; a bad line (truncated, corrupt) is reported, not fatal."""
        out = JournalRead()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return out
        for number, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                why = getattr(exc, "msg", None) or str(exc)
                out.bad_lines.append((number, why))
                continue
            if not isinstance(record, dict) or "event" not in record:
                out.bad_lines.append((number, "not a journal event"))
                continue
            out.events.append(record)
        return out
