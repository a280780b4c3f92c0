"""The documentation's examples are real: they are run here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from dcctl.inventory.loader import check_inventory

ROOT = Path(__file__).resolve().parent.parent


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(), flags=re.S)


def test_inventory_doc_example_is_valid(tmp_path):
    yaml_blocks = blocks(ROOT / "docs" / "inventory.md", "yaml")
    (tmp_path / "more").mkdir()
    (tmp_path / "inventory.yaml").write_text(yaml_blocks[0])
    (tmp_path / "more" / "extra.yaml").write_text(yaml_blocks[1])
    result = check_inventory(tmp_path / "inventory.yaml")
    assert [str(d) for d in result.diagnostics] == []
    inv = result.inventory
    assert str(inv.all_hosts) == "admin1,gpu[001-016],localhost,r[a-b]n[1-2]"
    assert str(inv.groups["everything"].hosts) == "admin1,gpu[001-016],localhost,r[a-b]n[1-2]"
    assert "workstation" in inv.profiles


def test_readme_console_examples(tmp_path):
    """Every `$ command` in the README's console block prints exactly what the README shows."""
    shutil.copytree(ROOT / "inventory", tmp_path / "inventory")
    text = blocks(ROOT / "README.md", "console")[0]
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    command, expected = None, []
    runs = 0

    def check() -> None:
        nonlocal runs
        if command is None:
            return
        proc = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.stdout.splitlines() == expected, command
        runs += 1

    for line in text.splitlines():
        if line.startswith("$ "):
            check()
            command, expected = line[2:], []
        else:
            expected.append(line)
    check()
    assert runs == 4


def test_readme_first_lines_are_the_two_commands():
    first = blocks(ROOT / "README.md", "sh")[0].strip().splitlines()
    assert len(first) == 2
    assert "inventory/example.yaml" in first[0]
    assert "pytest" in first[1]
    assert "python -m pytest -q" in (ROOT / ".ci" / "run").read_text()
