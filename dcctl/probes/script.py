"""One round trip per host: every probe command in one shell script, outputs framed.

The script runs each chain of steps (a step and its fallbacks) in the background, each command
under ``timeout -k`` on the host, waits, then prints every output between two marker lines
carrying a random boundary, so no output can forge a frame.
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
run() {
  ( if [ -n "$T" ]; then $T "$2" sh -c "$3"; else sh -c "$3"; fi ) >"$d/$1" 2>&1 </dev/null
  echo $? >"$d/$1.rc"
}
"""


def build_script(steps: Sequence[Step], boundary: str | None = None) -> tuple[str, str]:
    """The script text and its boundary token."""
    boundary = boundary or f"DCCTL-{secrets.token_hex(8)}"
    by_key = {s.key: s for s in steps}
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
    for chain in chains:
        first, rest = chain[0], chain[1:]
        parts = [f"run {first.key} {int(first.timeout)} {shlex.quote(first.shell)}"]
        for fallback in rest:
            parts.append(
                f'[ "$(cat "$d/{first.key}.rc")" = 0 ] || '
                f"run {fallback.key} {int(fallback.timeout)} {shlex.quote(fallback.shell)}"
            )
        lines.append("{ " + "; ".join(parts) + "; } &")
    lines.append("wait")
    keys = " ".join(by_key)
    lines.append(
        f'for k in {keys}; do [ -f "$d/$k.rc" ] || continue; '
        f'printf \'%s BEGIN %s\\n\' {boundary} "$k"; cat "$d/$k"; '
        f'printf \'\\n%s END %s rc=%s\\n\' {boundary} "$k" "$(cat "$d/$k.rc")"; done'
    )
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
