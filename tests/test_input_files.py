"""Every kind of input file goes through one located reader: the same refusals, the kind named.

Explicit YAML tags, the expansion cap and broken YAML are checked for each kind through the CLI a
user runs: exit 64, ``file:line:col`` in the message, the kind of file named, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.errors import (
    AllocationsFileError,
    ClassMapError,
    InputFileError,
    InventoryError,
    JobsFileError,
    PlaybookFileError,
    PolicyFileError,
    WorkloadsFileError,
)
from dcctl.inventory.loader import check_inventory, max_hosts_from

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "inventory" / "example.yaml")
JOBS = "jobs:\n  - {name: a, gpus: 1}\n"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def commands(path: Path, kind: str) -> list[str]:
    """The command a user runs that reads a file of this kind."""
    jobs = path.parent / "jobs-ok.yaml"
    jobs.write_text(JOBS)
    return {
        "inventory": ["inventory", "validate", str(path)],
        "playbook": ["-i", EXAMPLE, "apply", str(path), "--dry-run"],
        "jobs file": ["-i", EXAMPLE, "plan", "place", str(path)],
        "allocations file": ["-i", EXAMPLE, "plan", "place", str(jobs), "--allocations", str(path)],
        "class map": ["-i", EXAMPLE, "plan", "power", "--class-map", str(path)],
        "workloads file": ["-i", EXAMPLE, "plan", "capacity", str(path)],
        "health policy": ["-i", EXAMPLE, "health", "--policy", str(path), "--explain", "xid_79"],
    }[kind]


# A valid start for each kind, then a line that carries the hostile value (line 3 of every file).
HEADS = {
    "inventory": "hosts:\n  - name: n1\n    transport: {value}\n",
    "playbook": "name: p\nhosts: gpu001\nbecome: {value}\nresources: []\n",
    "jobs file": "jobs:\n  - name: a\n    gpus: {value}\n",
    "allocations file": "allocations:\n  - host: gpu001\n    gpus: {value}\n",
    "class map": "assign:\n  - hosts: gpu001\n    class: {value}\n",
    "workloads file": "workloads:\n  - name: w\n    params: {value}\n",
    "health policy": "rules:\n  - rule: xid_13\n    severity: {value}\n",
}
KINDS = list(HEADS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", ["!!timestamp x", '!!float ""', "!!python/name:os.system x"])
def test_explicit_tags_are_refused_with_location_in_every_kind(tmp_path, kind, value):
    path = tmp_path / "input.yaml"
    path.write_text(HEADS[kind].format(value=value))
    code, output = run(*commands(path, kind))
    assert code == 64, output
    assert f"{path}:3:" in output
    assert "explicit YAML tag" in output
    assert "Traceback" not in output and "bug" not in output
    if kind != "inventory":  # the summary names the kind of file
        assert f"{kind} {path}: 1 error" in output


@pytest.mark.parametrize("kind", KINDS)
def test_broken_yaml_names_the_kind_not_inventory(tmp_path, kind):
    path = tmp_path / "input.yaml"
    path.write_text(HEADS[kind].format(value="[unclosed"))
    code, output = run(*commands(path, kind))
    assert code == 64, output
    assert f"{path}:" in output
    if kind != "inventory":
        assert "inventory:" not in output
        assert f"{kind} {path}: 1 error" in output


def test_error_classes_name_their_kind():
    kinds = {
        cls.kind
        for cls in (
            InventoryError,
            PlaybookFileError,
            JobsFileError,
            AllocationsFileError,
            ClassMapError,
            WorkloadsFileError,
            PolicyFileError,
        )
    }
    assert kinds == set(KINDS)
    assert all(
        issubclass(c, InputFileError)
        for c in (InventoryError, PlaybookFileError, JobsFileError, ClassMapError)
    )


def test_one_huge_range_is_refused_at_once_with_its_location(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text("hosts:\n  - gpu[000001-999999]\n")
    result = check_inventory(path)
    [error] = result.errors
    assert (error.loc.line, error.loc.col) == (2, 5)
    assert "more than 200,000 names" in error.message and "DCCTL_MAX_HOSTS" in error.message


def test_hosts_per_file_cap_counts_every_entry_and_is_overridable(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text("hosts:\n  - a[1-60]\n  - b[1-60]\n")
    [error] = check_inventory(path, max_hosts=100).errors
    assert error.loc.line == 3 and error.path == "hosts[1]"
    assert "defines more than 100 hosts" in error.message
    assert not check_inventory(path, max_hosts=120).errors
    assert max_hosts_from({"DCCTL_MAX_HOSTS": "120"}) == 120
    assert max_hosts_from({}) == 200_000


def test_max_hosts_env_is_used_by_the_cli_and_checked(tmp_path, monkeypatch):
    path = tmp_path / "inventory.yaml"
    path.write_text("hosts:\n  - a[1-60]\n  - b[1-60]\n")
    monkeypatch.setenv("DCCTL_MAX_HOSTS", "100")
    code, output = run("inventory", "validate", str(path))
    assert code == 64 and f"{path}:3:5: hosts[1]:" in output
    monkeypatch.setenv("DCCTL_MAX_HOSTS", "-3")
    code, output = run("inventory", "validate", str(path))
    assert code == 64 and "DCCTL_MAX_HOSTS must be a positive integer" in output
