"""Help reads like a Unix tool's: no Python types beside flags, no braces, Ansible spellings."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dcctl.cli import app

COMMANDS = [
    [], ["apply"], ["probe"], ["validate"], ["health"], ["health", "baseline", "save"],
    ["inventory", "validate"], ["inventory", "list"], ["inventory", "show"], ["inventory", "tree"],
    ["plan", "place"], ["plan", "power"], ["plan", "capacity"], ["drain"], ["resume"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_no_python_types_or_braces(command):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for noise in ("<bool>", "<int", "<float", "<str>", "<path>", "{", "}"):
        assert noise not in result.output, f"{' '.join(command)}: {noise!r} in help"


def test_version_after_a_sub_command():
    result = CliRunner().invoke(app, ["inventory", "list", "--version"])
    assert result.exit_code == 0 and result.output.startswith("dcctl ")


def test_check_is_dry_run(tmp_path):
    book = tmp_path / "p.yaml"
    book.write_text(f"name: t\nhosts: localhost\nresources:\n"
                    f"  - {{type: file, path: {tmp_path}/f, content: x}}\n")  # fmt: skip
    from tests.test_validate import EXAMPLE

    result = CliRunner().invoke(app, ["-i", EXAMPLE, "apply", str(book), "--check", "--diff"])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "f").exists()
    assert "+x" in result.output  # the diff


def test_verbose_counts():
    from dcctl.cli.state import State

    seen = {}
    original = State.create

    def spy(*args, **kwargs):
        state = original(*args, **kwargs)
        seen["verbose"] = state.verbose
        return state

    State.create = staticmethod(spy)  # type: ignore[method-assign]
    try:
        CliRunner().invoke(app, ["-vv", "inventory", "tree", "-i", "/nonexistent"])
    finally:
        State.create = original  # type: ignore[method-assign]
    assert seen["verbose"] == 2
