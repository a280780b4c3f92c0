"""Support bundles: one file per command, first line ``$ <command>``, last line ``# rc=N``.

``write_bundle`` saves what a probe read; ``read_bundle`` loads a bundle (ours, or one made by
hand on a node, such as ``shared/fixtures/h100-idle``) and files each output under the step it
belongs to, recognising the command line even when its quoting was lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from dcctl.errors import InputError
from dcctl.probes.base import Output, Step

_RC = re.compile(r"^# rc=(-?\d+)\s*$")


def format_output(output: Output) -> str:
    """One bundle file's text."""
    body = output.text if output.text.endswith("\n") or not output.text else output.text + "\n"
    rc = "" if output.rc is None else str(output.rc)
    return f"$ {output.command}\n{body}# rc={rc}\n"


def write_bundle(directory: Path, outputs: Mapping[str, Output]) -> None:
    """Write one ``<key>.txt`` per output into a directory (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, output in outputs.items():
        (directory / f"{key}.txt").write_text(format_output(output))


def parse_bundle_file(text: str, name: str) -> Output:
    """Parse one bundle file; raises InputError when it lacks the ``$`` first line."""
    lines = text.split("\n")
    if not lines or not lines[0].startswith("$ "):
        raise InputError(f"{name}: not a bundle file (the first line must be '$ <command>')")
    command = lines[0][2:]
    body = lines[1:]
    while body and body[-1] == "":
        body.pop()
    rc: int | None = None
    if body and (m := _RC.match(body[-1])):
        rc = int(m.group(1))
        body.pop()
    text_out = "\n".join(body)
    return Output(command, text_out + ("\n" if text_out else ""), rc)


def read_bundle(directory: Path, steps: Sequence[Step]) -> dict[str, Output]:
    """Outputs of one host's bundle directory, keyed by the step each file belongs to."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    outputs: dict[str, Output] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        if not text.startswith("$ "):
            continue
        output = parse_bundle_file(text, str(path))
        for step in steps:
            if step.key not in outputs and step.recognise.search(output.command):
                outputs[step.key] = output
                break
    return outputs
