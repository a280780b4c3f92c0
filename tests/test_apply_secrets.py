"""Secrets never leave: secret shapes × resources × channels × dry-run / apply / failure / resume.

A secret var is used by every kind of resource that can carry it (file content, a line, a
``command:`` string, argv, a ``creates`` path, a command that fails and prints it). Every channel
a person or a program reads is collected: the table, ``-o json``, ``-o jsonl``, stderr, ``-vv``,
and the run journal, for a dry-run, an apply (which fails on purpose), and a resume. No form of
the secret may appear in any of them: as written, quoted for a shell, escaped in JSON, or one of
its lines.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app

SHAPES = {
    "plain": "s3cr3t-plain-value",
    "multi-line": "first-line-of-secret\nsecond-line-of-secret",
    "quote": "it's-a-'quoted'-s3cret",
    "space": "two words s3cret",
    "long": "L0ngS3cret" * 30,
    "json-special": 'back\\slash"dq-s3cret',
    "unicode": "pässwörd-ünïcode-s3cret",
}


def forms(secret: str) -> list[str]:
    out = {secret, shlex.quote(secret), json.dumps(secret)[1:-1]}
    out.update(line for line in secret.splitlines() if len(line) >= 8)
    return sorted(out)


def write(root: Path, secret: str) -> dict[str, Path]:
    work = root / "host"
    work.mkdir()
    (work / "existing.conf").write_text("a = 1\n")
    inventory = root / "inventory.yaml"
    inventory.write_text("hosts:\n  - {name: here, transport: local}\n")
    playbook = root / "site.yaml"
    book = {
        "name": "secret shapes",
        "hosts": "here",
        "vars": {"s": {"secret": secret}},
        "resources": [
            {"type": "file", "path": f"{work}/app.conf", "content": "password={{ s }}\n"},
            {"type": "line", "path": f"{work}/existing.conf", "line": "token={{ s }}"},
            {"type": "command", "command": "true {{ s }}"},
            {
                "type": "command",
                "argv": ["sh", "-c", 'printf %s "$1" > "$2"', "sh", "{{ s }}", f"{work}/argv.out"],
                "creates": f"{work}/argv.out",
            },
            {"type": "command", "argv": ["true"], "creates": f"{work}/c-{{{{ s }}}}"},
            {
                "type": "command",
                "argv": ["sh", "-c", 'echo "failed: $1" >&2; exit 1', "sh", "{{ s }}"],
            },
        ],
    }
    if "\n" in secret:  # a line and a path are one line: those two refuse it (tested below)
        book["resources"] = [r for i, r in enumerate(book["resources"]) if i not in (1, 4)]
    playbook.write_text(json.dumps(book))
    return {"inventory": inventory, "playbook": playbook, "state": root / "state", "work": work}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_no_secret_leaves_through_any_channel(tmp_path, shape):
    secret = SHAPES[shape]
    site = write(tmp_path, secret)
    runner = CliRunner()
    base = ["-i", str(site["inventory"])]
    tail = [str(site["playbook"]), "--state-dir", str(site["state"]), "--no-health-gate"]
    seen: dict[str, str] = {}

    def run(name: str, *args: str) -> int:
        result = runner.invoke(app, [*base, *args])
        seen[name] = result.output
        assert "Traceback" not in result.output, result.output
        return result.exit_code

    for fmt in ("table", "json", "jsonl"):
        run(f"dry-run -o {fmt}", "-o", fmt, "apply", "--dry-run", *tail)
    run("dry-run -vv", "-vv", "apply", "--dry-run", *tail)
    code = run("apply", "apply", "--yes", *tail)
    assert code == 3  # the failing command fails the host on purpose
    journals = sorted((site["state"] / "runs").glob("*.jsonl"))
    run_id = journals[0].stem
    run("resume -o json", "-o", "json", "apply", "--yes", "--resume", run_id, *tail)
    for path in sorted((site["state"] / "runs").glob("*.jsonl")):
        seen[f"journal {path.name}"] = path.read_text()
    # The secret did reach the host where it belongs (so it really went through the run).
    assert secret in (site["work"] / "app.conf").read_text()
    assert (site["work"] / "argv.out").read_text() == secret
    leaks = [(channel, form) for channel, text in seen.items() for form in forms(secret)
             if form in text]  # fmt: skip
    assert leaks == []
    assert any("***" in text for text in seen.values())


def test_a_refused_secret_value_is_not_shown_in_the_error(tmp_path):
    secret = SHAPES["multi-line"]
    site = write(tmp_path, "placeholder")
    book = json.loads(site["playbook"].read_text())
    book["vars"]["s"]["secret"] = secret
    book["resources"] = [
        {"type": "line", "path": f"{site['work']}/existing.conf", "line": "token={{ s }}"},
        {"type": "file", "path": f"{site['work']}/{{{{ s }}}}", "content": "x"},
    ]
    site["playbook"].write_text(json.dumps(book))
    result = CliRunner().invoke(
        app, ["-i", str(site["inventory"]), "apply", "--dry-run", str(site["playbook"])]
    )
    assert result.exit_code == 64  # refused when the playbook is checked, before any host
    assert "must be one line" in result.output
    assert [f for f in forms(secret) if f in result.output] == []
