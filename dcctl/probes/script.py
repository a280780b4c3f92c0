"""One round trip per host: every probe command in one shell script, outputs framed.

The script runs each chain of steps (a step and its fallbacks) in the background, commands that
may hang (nvidia-smi, df on a dead NFS mount) under ``timeout -k`` on the host, waits, then prints
every output between two marker lines carrying a random boundary, so no output forges a frame.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Sequence

from dcctl.probes.base import Output, Step

_PRELUDE = r"""d=$(mktemp -d 2>/dev/null) || { d=/tmp/dcctl.$$; mkdir -p "$d"; }
trap 'rm -rf "$d"' EXIT
PATH="$PATH:/usr/sbin:/sbin"; export PATH
if command -v timeout >/dev/null 2>&1; then T="timeout -k 2"; else T=""; fi
"""


def _invocation(step: Step) -> str:
    """How one step runs: in a subshell; under the host's ``timeout`` when it may hang."""
    if step.guarded:
        quoted = shlex.quote(step.shell)
        return (
            f'if [ -n "$T" ]; then $T {int(step.timeout)} sh -c {quoted}; else sh -c {quoted}; fi'
        )
    return f"( {step.shell}\n)"  # the newline ends a trailing comment in the command


def _framed(step: Step, boundary: str) -> str:
    """The step wrapped in its frame; ``rc`` holds its exit status afterwards."""
    return (
        f"printf '%s BEGIN %s\\n' {boundary} {step.key}; {_invocation(step)}; rc=$?; "
        f"printf '\\n%s END %s rc=%s\\n' {boundary} {step.key} $rc"
    )


def build_script(steps: Sequence[Step], boundary: str | None = None) -> tuple[str, str]:
    """The script text and its boundary token.

    Each chain (a step and its fallbacks) runs in the background, writing its framed output to
    a file of its own; one ``cat`` prints them all at the end. Few processes per host: the
    script is the whole cost a probe puts on a host besides the commands themselves.
    """
    boundary = boundary or f"DCCTL-{secrets.token_hex(8)}"
    chains: list[list[Step]] = []
    for step in steps:
        if step.fallback_for is None:
            chains.append([step])
    for step in steps:
        if step.fallback_for is not None:
            for chain in chains:
                if chain[0].key == step.fallback_for:
                    chain.append(step)
    lines = [_PRELUDE]
    for n, chain in enumerate(chains):
        first, rest = chain[0], chain[1:]
        body = _framed(first, boundary)
        for fallback in rest:
            body += f"; [ $rc = 0 ] || {{ {_framed(fallback, boundary)}; }}"
        lines.append(f'{{ {body}; }} >"$d/{n}" 2>&1 </dev/null &')
    lines.append("wait")
    lines.append('cat "$d"/*')
    return "\n".join(lines) + "\n", boundary


def parse_framed(text: str, boundary: str, steps: Sequence[Step]) -> dict[str, Output]:
    """Split the script's output back into one Output per step that ran."""
    by_key = {s.key: s for s in steps}
    pattern = re.compile(
        rf"^{re.escape(boundary)} BEGIN (\S+)\n(.*?)\n{re.escape(boundary)} END \1 rc=(\d*)$",
        re.S | re.M,
    )
    outputs: dict[str, Output] = {}
    for match in pattern.finditer(text):
        key, body, rc = match.group(1), match.group(2), match.group(3)
        step = by_key.get(key)
        if step is None:
            continue
        outputs[key] = Output(step.shell, body, int(rc) if rc else None)
    return outputs
