"""A saved plan file as hostile input: damaged, forged or edited, never a traceback, never run."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from tests.test_validate import EXAMPLE


def setup(tmp_path):
    book = tmp_path / "p.yaml"
    book.write_text(f"name: t\nhosts: localhost\nresources:\n"
                    f"  - {{type: file, path: {tmp_path}/f, content: x}}\n")  # fmt: skip
    saved = tmp_path / "plan.json"
    run = CliRunner().invoke(app, ["-i", EXAMPLE, "apply", str(book), "--dry-run",
                                   "--save-plan", str(saved)])  # fmt: skip
    assert run.exit_code == 2, run.output
    return book, saved


def apply(book, saved):
    return CliRunner().invoke(app, ["-i", EXAMPLE, "apply", str(book), "--plan", str(saved),
                                    "--yes"])  # fmt: skip


def test_the_saved_plan_applies(tmp_path):
    book, saved = setup(tmp_path)
    assert apply(book, saved).exit_code == 0
    assert (tmp_path / "f").read_text() == "x"


@pytest.mark.parametrize("damage", [
    lambda t: t[: len(t) // 2],
    lambda t: "not json",
    lambda t: t.replace("dcctl.apply.saved/1", "dcctl.apply.saved/9"),
    lambda t: json.dumps({**json.loads(t), "hosts": [1, 2]}),
    lambda t: json.dumps({**json.loads(t), "hosts": "$(reboot)"}),
    lambda t: "\x00" * 10,
    lambda t: json.dumps({**json.loads(t), "hosts": [{"host": "localhost", "resources": ["a"]}]}),
])  # fmt: skip
def test_a_damaged_plan_is_refused_and_nothing_runs(tmp_path, damage):
    book, saved = setup(tmp_path)
    saved.write_text(damage(saved.read_text()))
    result = apply(book, saved)
    assert result.exit_code == 64, result.output
    assert "--plan" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "f").exists()


def test_a_forged_fingerprint_is_stale_not_applied(tmp_path):
    book, saved = setup(tmp_path)
    data = json.loads(saved.read_text())
    data["hosts"][0]["resources"][0]["fingerprint"] = "0" * 64
    saved.write_text(json.dumps(data))
    result = apply(book, saved)
    assert result.exit_code == 3 and "stale" in result.output
    assert not (tmp_path / "f").exists()


def test_random_mutations_of_a_plan_never_crash(tmp_path):
    book, saved = setup(tmp_path)
    original = saved.read_text()
    rng = random.Random(11)
    for _ in range(40):
        chars = list(original)
        for _ in range(rng.randrange(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice('{}[]",:0a-\n')
        saved.write_text("".join(chars))
        result = apply(book, saved)
        assert result.exit_code in (0, 3, 64), result.output
        assert "Traceback" not in result.output and "internal error" not in result.output
