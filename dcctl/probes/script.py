"""One round trip per host: every probe command in one shell script, outputs framed.

The script runs each chain of steps (a step and its fallbacks) in the background, commands that
may hang (nvidia-smi, df on a dead NFS mount) under ``timeout -k`` on the host, waits, then prints
every output between two marker lines carrying a random boundary, so no output forges a frame.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Sequence

from dcctl.probes.base import Output, Step

_PRELUDE = r"""d=$(mktemp -d 2>/dev/null) || { d=/tmp/dcctl.$$; mkdir -p "$d"; }
trap 'rm -rf "$d"' EXIT
PATH="$PATH:/usr/sbin:/sbin"; export PATH
if command -v timeout >/dev/null 2>&1; then T="timeout -k 2"; else T=""; fi
"""


def _framed(step: Step, boundary: str) -> str:
    """The step between its frame lines; ``rc`` holds its exit status afterwards.

    Commands run in the chain's own shell (no subshell each): they are dcctl's constants, none
    exits the shell, and one that changes shell state (IFS) brackets itself.
    """
    return (
        f"printf '%s BEGIN %s\\n' {boundary} {step.key}; {step.shell}\n rc=$?; "
        f"printf '\\n%s END %s rc=%s\\n' {boundary} {step.key} $rc"
    )


def _chains(steps: Sequence[Step]) -> list[list[Step]]:
    """Steps grouped into chains, each run one step after another.

    A step's fallbacks follow it; steps of one ``group`` (the nvidia-smi calls) share a chain.
    """
    chains: dict[str, list[Step]] = {}
    for step in steps:
        if step.fallback_for is None:
            chains.setdefault(step.group or step.key, []).append(step)
    for step in steps:
        if step.fallback_for is not None:
            for chain in chains.values():
                keys = [s.key for s in chain]
                if step.fallback_for in keys:
                    chain.insert(keys.index(step.fallback_for) + 1, step)
    return list(chains.values())


def build_script(steps: Sequence[Step], boundary: str | None = None) -> tuple[str, str]:
    """The script text and its boundary token.

    Chains run in parallel in the background, each writing its framed outputs to a file of
    its own; one ``cat`` prints them all at the end. A chain with a command that may hang runs
    under the host's ``timeout -k`` (its slowest step's limit). Few processes per host: this
    script is the whole cost a probe adds on a host besides the commands themselves.
    """
    boundary = boundary or f"DCCTL-{secrets.token_hex(8)}"
    lines = [_PRELUDE]
    for n, chain in enumerate(_chains(steps)):
        parts = []
        for step in chain:
            framed = _framed(step, boundary)
            parts.append(f"[ $rc = 0 ] || {{ {framed}; }}" if step.fallback_for else framed)
        body = "rc=0; " + "; ".join(parts)
        if any(step.guarded for step in chain):
            limit = int(max(step.timeout for step in chain))
            # ``$T`` is empty where the host has no ``timeout``; the limit goes with it.
            run = f"$T ${{T:+{limit}}} sh -c {shlex.quote(body)}"
        else:
            run = body
        lines.append(f'{{ {run}; }} >"$d/{n}" 2>&1 </dev/null &')
    lines.append("wait")
    lines.append('cat "$d"/*')
    return "\n".join(lines) + "\n", boundary


def parse_framed(text: str, boundary: str, steps: Sequence[Step]) -> dict[str, Output]:
    """Split the script's output back into one Output per step that ran.

    The boundary is random, so no output can contain it: the text between one ``BEGIN`` and
    the next is one step's. A step whose END line never came (the host's ``timeout`` stopped
    its chain) keeps what it printed and no exit status, which reads as timed out.
    """
    by_key = {s.key: s for s in steps}
    outputs: dict[str, Output] = {}
    for piece in text.split(f"{boundary} BEGIN ")[1:]:
        key, _, rest = piece.partition("\n")
        step = by_key.get(key)
        if step is None:
            continue
        marker = f"\n{boundary} END {key} rc="
        at = rest.rfind(marker)
        if at < 0:
            outputs[key] = Output(step.shell, rest, None)
            continue
        rc = rest[at + len(marker) :].strip()
        outputs[key] = Output(step.shell, rest[:at], int(rc) if rc.isdigit() else None)
    return outputs
