"""Every command's JSON matches docs/json.md: the schema id, exactly the documented fields, types.

The tables in docs/json.md are the specification; this test reads them and checks the real
output of each command (``-o json`` and ``-o jsonl``) against them, so the docs cannot drift.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.render.writers import WRITERS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "inventory" / "example.yaml")
BUNDLE = str(ROOT / "tests" / "fixtures" / "h100-idle")
DOC = ROOT / "docs" / "json.md"

TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "list": list,
    "null": type(None),
    "any": object,
}


def documented_kinds() -> dict[str, dict[str, tuple[str, bool]]]:
    """kind → field → (type text, JSON-lines only)."""
    kinds: dict[str, dict[str, tuple[str, bool]]] = {}
    kind = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"^## (?:dcctl\.)?([a-z.]+?)(?:/1)?$", line)
        if heading:
            kind = heading.group(1)
            kinds[kind] = {}
            continue
        row = re.match(r"^\| (\w+) \| ([^|]+) \| (.*) \|$", line)
        if kind and row and row.group(1) != "field":
            kinds[kind][row.group(1)] = (row.group(2).strip(), "JSON lines only" in row.group(3))
    return kinds


KINDS = documented_kinds()


def check(value: object, kind: str, *, line: bool, where: str) -> None:
    """``value`` has exactly the fields of ``kind`` with their types (recursively)."""
    fields = KINDS[kind]
    assert isinstance(value, dict), f"{where}: not an object"
    expected = {name for name, (_, lines_only) in fields.items() if line or not lines_only}
    if not line:
        expected.discard("schema") if kind not in TOP_LEVEL else None
    assert set(value) == expected, (
        f"{where}: fields {sorted(value)} != documented {sorted(expected)}"
    )
    if "schema" in expected:
        assert value["schema"] == f"dcctl.{kind}/1", where
        assert next(iter(value)) == "schema", f"{where}: schema is not the first field"
    for name, (type_text, _) in fields.items():
        if name not in value:
            continue
        item = value[name]
        nested = re.fullmatch(r"list of ([a-z.]+)", type_text)
        if nested:
            assert isinstance(item, list), f"{where}.{name}: not a list"
            for i, element in enumerate(item):
                check(element, nested.group(1), line=False, where=f"{where}.{name}[{i}]")
            continue
        allowed = tuple(TYPES[t.strip()] for t in type_text.split(" or "))
        flat = tuple(t for a in allowed for t in (a if isinstance(a, tuple) else (a,)))
        ok = isinstance(item, flat) and not (isinstance(item, bool) and bool not in flat)
        assert ok, f"{where}.{name}: {type(item).__name__} is not {type_text}"


# (command arguments, kind of the -o json document, kind of each -o jsonl line)
COMMANDS = [
    (["inventory", "validate", "--format", "json", EXAMPLE], "validate", "validate.file"),
    (
        ["validate", EXAMPLE, str(ROOT / "jobs" / "example.yaml"), str(ROOT / "nonexistent")],
        "validate",
        "validate.file",
    ),
    (["inventory", "list", "-l", "@canary"], "inventory.list", "inventory.host"),
    (["inventory", "list", "--fold"], "inventory.fold", "inventory.fold"),
    (["inventory", "show", "gpu001"], "inventory.show", "inventory.setting"),
    (["inventory", "tree"], "inventory.tree", "inventory.tree"),
    (["probe", "--from-bundle", BUNDLE], "probe", "probe.host"),
    (["plan", "place", str(ROOT / "jobs" / "example.yaml")], "plan.place", "plan.place"),
    (["plan", "power"], "plan.power", "plan.power"),
    (["plan", "power", "--derate", "feed-a=0"], "plan.power", "plan.power"),
    (
        ["plan", "capacity", str(ROOT / "workloads" / "example-training.yaml")],
        "plan.capacity",
        "plan.capacity",
    ),
    (["health", "--from-bundle", BUNDLE], "health", "health.host"),
]
TOP_LEVEL = {kind for _, kind, _ in COMMANDS} | {"apply.plan", "apply.saved"}


@pytest.mark.parametrize(("args", "kind", "line_kind"), COMMANDS, ids=lambda a: str(a)[:40])
def test_command_json_matches_docs(args, kind, line_kind):
    runner = CliRunner()
    result = runner.invoke(app, ["-i", EXAMPLE, "-o", "json", *args])
    assert result.exit_code in (0, 1) or args[0] == "validate", result.output
    check(json.loads(result.stdout), kind, line=True, where=kind)
    result = runner.invoke(app, ["-i", EXAMPLE, "-o", "jsonl", *args])
    lines = result.stdout.splitlines()
    assert lines, result.output
    for i, text in enumerate(lines):
        check(json.loads(text), line_kind, line=True, where=f"{line_kind} line {i}")


def test_apply_plan_json_matches_docs(tmp_path):
    playbook = tmp_path / "p.yaml"
    playbook.write_text(
        "name: t\nhosts: localhost\nresources:\n"
        f"  - {{type: file, path: {tmp_path}/f, content: x}}\n"
        f"  - {{type: file, path: {tmp_path}/g, content: y}}\n"
    )
    runner = CliRunner()
    args = ["-i", EXAMPLE, "apply", str(playbook), "--dry-run"]
    result = runner.invoke(app, ["-o", "json", *args])
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    check(document, "apply.plan", line=True, where="apply.plan")
    assert document["pending"] >= 1
    lines = runner.invoke(app, ["-o", "jsonl", *args]).stdout.splitlines()
    assert len(lines) == 1  # one host, one line
    check(json.loads(lines[0]), "apply.host", line=True, where="apply.host")
    saved = tmp_path / "plan.json"
    result = runner.invoke(app, [*args, "--save-plan", str(saved)])
    assert result.exit_code == 2, result.output
    check(json.loads(saved.read_text()), "apply.saved", line=True, where="apply.saved")


def test_every_documented_kind_is_produced_and_every_writer_documented():
    produced = {k for _, kind, line in COMMANDS for k in (kind, line)}
    produced |= {"apply.plan", "apply.host", "apply.saved", "diagnostic"}
    # Checked against a real Slurm in tests/test_slurm_loop.py.
    produced |= {"slurm.actions", "slurm.action", "slurm.status", "slurm.node"}
    produced |= {"run", "run.host"}  # against real sshd in tests/test_run_e2e.py
    produced |= {"top", "top.host"}  # against real sshd in tests/test_top_e2e.py
    assert set(KINDS) == produced
    text = DOC.read_text()
    for name in WRITERS:
        assert f"`{name}`" in text or name in ("table",) or f"-o {name}" in text, name


def test_monitoring_writers_refuse_commands_without_a_status():
    runner = CliRunner()
    for fmt in ("nagios", "prometheus"):
        result = runner.invoke(app, ["-i", EXAMPLE, "-o", fmt, "inventory", "tree"])
        assert result.exit_code == 64 and f"-o {fmt}: inventory.tree has no" in result.output
