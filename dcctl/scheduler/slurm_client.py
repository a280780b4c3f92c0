"""Running Slurm's own clients (``scontrol``) where dcctl runs, with a hard timeout.

``SLURM_CONF`` and the rest of the environment pass through. A client that does not answer
in time, or says it cannot reach slurmctld, is :class:`SchedulerUnreachableError` (exit 3):
the state is unknown and nothing is changed on it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from dcctl.scheduler.slurm_nodes import (
    SchedulerUnreachableError,
    SlurmNode,
    SlurmOutputError,
    check_reachable,
    parse_scontrol_nodes,
)

#: Longest one client call may take (slurmctld down: a client waits ~10 s by itself).
CLIENT_TIMEOUT_S = 20.0


def run_slurm(argv: Sequence[str], timeout: float = CLIENT_TIMEOUT_S) -> tuple[str, int | None]:
    """A Slurm client's output (stdout and stderr) and exit status; None when it timed out."""
    try:
        run = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                             check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    except FileNotFoundError:
        raise SchedulerUnreachableError(f"slurm: {argv[0]} is not installed here") from None
    except subprocess.TimeoutExpired:
        return "", None
    return run.stdout + run.stderr, run.returncode


def read_nodes(timeout: float = CLIENT_TIMEOUT_S) -> dict[str, SlurmNode]:
    """Every node's state, by Slurm node name (``scontrol -o -d show node``)."""
    text, rc = run_slurm(("scontrol", "-o", "-d", "show", "node"), timeout)
    check_reachable(text, rc)
    if rc != 0:
        first = (text.strip().splitlines() or ["no output"])[0]
        raise SlurmOutputError(f"slurm: scontrol show node failed: {first}")
    return {n.name: n for n in parse_scontrol_nodes(text)}
