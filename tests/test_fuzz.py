"""A small run of the mutation fuzz (benchmarks/fuzz.py) on every kind of input file.

The full run (2,000 mutants per kind) is by hand; here a few dozen per kind keep the suite fast
but still fail on a crash (exit 70), an unlocated error or an invalid file accepted. A few mutants
per kind also go through the CLI a user runs: exit 0 or 64, never a traceback.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.inventory.loader import check_inventory

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("dcctl_fuzz", ROOT / "benchmarks" / "fuzz.py")
assert _spec is not None and _spec.loader is not None
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["dcctl_fuzz"] = fuzz
_spec.loader.exec_module(fuzz)


@pytest.fixture(scope="module")
def inventory():
    return check_inventory(fuzz.EXAMPLE).inventory


@pytest.mark.parametrize("kind", list(fuzz.SEEDS))
def test_mutants_never_crash_and_every_error_is_located(tmp_path, kind, inventory):
    tally = fuzz.fuzz_kind(kind, 120, seed=7, workdir=tmp_path, inventory=inventory)
    assert tally.mutants == 120
    assert tally.crashes == []
    assert tally.unlocated == []
    assert tally.invalid_accepted == []
    assert tally.refused > 0 and tally.accepted > 0  # the mutants are not all of one outcome


@pytest.mark.parametrize("kind", list(fuzz.SEEDS))
def test_known_invalid_mutants_are_refused(tmp_path, kind, inventory):
    rng = random.Random(kind)
    path = tmp_path / "m.yaml"
    refused = 0
    for _ in range(20):
        made = fuzz.invalid_mutant(rng.choice(fuzz.SEEDS[kind]), rng)
        assert made is not None
        path.write_text(made[0])
        result = fuzz.check(path, kind, inventory)
        assert result.errors, f"{made[1]} accepted:\n{made[0]}"
        refused += 1
    assert refused == 20


@pytest.mark.parametrize("kind", list(fuzz.SEEDS))
def test_mutants_through_the_cli_exit_0_or_64(tmp_path, kind):
    rng = random.Random(f"cli:{kind}")
    path = tmp_path / "m.yaml"
    codes = set()
    for _ in range(8):
        text, _family = fuzz.text_mutant(rng.choice(fuzz.SEEDS[kind]), rng)
        path.write_text(text)
        result = CliRunner().invoke(
            app, ["-i", str(fuzz.EXAMPLE), "validate", "--kind", kind, str(path)]
        )
        assert result.exit_code in (0, 64), result.output
        assert "Traceback" not in result.output
        codes.add(result.exit_code)
    assert 64 in codes
