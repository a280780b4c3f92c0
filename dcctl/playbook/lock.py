"""Where runs keep state, and the lock that allows one apply per inventory on a machine.

The state directory is machine-wide (``/var/lib/dcctl`` as root, else
``$XDG_STATE_HOME/dcctl``, by default ``~/.local/state/dcctl``), so two applies started from two
directories, or through a symlink to the inventory, meet at the same lock: it is named after
the inventory's resolved real path.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from dcctl.errors import LockedError


def default_state_dir(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    """``$DCCTL_STATE_DIR``; else ``/var/lib/dcctl`` for root; else ``$XDG_STATE_HOME/dcctl``.

    ``$XDG_STATE_HOME`` defaults to ``~/.local/state``.
    """
    env = os.environ if env is None else env
    uid = os.geteuid() if uid is None else uid
    if env.get("DCCTL_STATE_DIR"):
        return Path(env["DCCTL_STATE_DIR"])
    if uid == 0:
        return Path("/var/lib/dcctl")
    base = env.get("XDG_STATE_HOME") or str(
        Path(env.get("HOME") or "~").expanduser() / ".local" / "state"
    )
    return Path(base) / "dcctl"


def lock_path(directory: Path, inventory_files: Sequence[str]) -> Path:
    """The lock file of an inventory: named after its root file's resolved real path."""
    real = os.path.realpath(inventory_files[0])
    return directory / f"{hashlib.sha256(real.encode()).hexdigest()[:16]}.lock"


@contextmanager
def inventory_lock(directory: Path, inventory_files: Sequence[str]) -> Iterator[Path]:
    """Hold the inventory's exclusive lock; LockedError names the holder when it is taken.

    The lock is an flock: the kernel releases it if the holder dies, so a killed apply never
    leaves a stale lock behind.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = lock_path(directory, inventory_files)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another dcctl apply"
            raise LockedError(
                f"{os.path.realpath(inventory_files[0])} is locked by {holder} ({path})"
            ) from None
        fh.seek(0)
        fh.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        fh.write(f"dcctl apply pid {os.getpid()} on {socket.gethostname()} since {started}")
        fh.flush()
        try:
            yield path
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
