"""``dcctl validate``: every kind of input file recognised and checked offline, as CI runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.validate.files import KINDS, check_file, recognise

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "inventory" / "example.yaml")

VALID = {
    "inventory": "hosts:\n  - name: n[1-3]\n    address: 127.0.0.[1-3]\n",
    "playbook": (
        "name: p\nhosts: '@h100'\nresources:\n"
        "  - {type: sysctl, name: net.core.rmem_max, value: '{{ rmem }}'}\nvars: {rmem: 1048576}\n"
    ),
    "jobs file": "jobs:\n  - {name: a, gpus: 2}\n",
    "allocations file": "allocations:\n  - {host: gpu001, gpus: [0, 1]}\n",
    "class map": "assign:\n  - {hosts: '@rack-a1', class: training}\n",
    "workloads file": (
        "workloads:\n  - name: w\n    kind: training\n    params: 8B\n    tokens: 1T\n"
        "    wall_days: 14\n"
    ),
    "health policy": "rules:\n  - {rule: xid_13, severity: warning}\n",
    "baseline": json.dumps({"schema": "dcctl.health.baseline/1", "hosts": {"gpu001": {}}}),
}

# One error per kind, and the line it is on.
BROKEN = {
    "inventory": ("hosts:\n  - name: n1\n    transport: carrier-pigeon\n", 3),
    "playbook": ("name: p\nhosts: gpu001\nbecome: maybe\nresources: []\n", 3),
    "jobs file": ("jobs:\n  - name: a\n    gpus: lots\n", 3),
    "allocations file": ("allocations:\n  - host: gpu001\n    gpus: [0, 99]\n", 3),
    "class map": ("assign:\n  - hosts: gpu001\n    class: nosuchclass\n", 3),
    "workloads file": ("workloads:\n  - name: w\n    params: -5\n", 3),
    "health policy": ("rules:\n  - rule: xid_13\n    severity: apocalyptic\n", 3),
    "baseline": ('{\n "schema": "dcctl.health.baseline/1",\n "hosts": [1]\n}\n', 1),
}


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def write(tmp_path: Path, kind: str, text: str) -> Path:
    suffix = ".json" if kind == "baseline" else ".yaml"
    path = tmp_path / (kind.replace(" ", "-") + suffix)
    path.write_text(text)
    return path


def test_every_kind_has_a_valid_and_a_broken_sample():
    assert set(VALID) == set(KINDS) == set(BROKEN)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_recognised_by_its_keys(tmp_path, kind):
    assert recognise(write(tmp_path, kind, VALID[kind])) == (kind, [])


@pytest.mark.parametrize("kind", KINDS)
def test_a_valid_file_of_each_kind_passes(tmp_path, kind):
    path = write(tmp_path, kind, VALID[kind])
    code, output = run("-i", EXAMPLE, "validate", str(path))
    assert code == 0, output
    assert f"{path}: valid ({kind}" in output


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_file_of_each_kind_is_located_and_exits_64(tmp_path, kind):
    text, line = BROKEN[kind]
    path = write(tmp_path, kind, text)
    code, output = run("-i", EXAMPLE, "validate", str(path))
    assert code == 64, output
    assert f"{path}:{line}:" in output
    assert "Traceback" not in output


def test_all_files_are_checked_and_every_error_reported_at_once(tmp_path):
    (tmp_path / "bad").mkdir()
    paths = [str(write(tmp_path / "bad", kind, text)) for kind, (text, _) in BROKEN.items()]
    good = write(tmp_path, "workloads file", VALID["workloads file"])
    code, output = run("-i", EXAMPLE, "-o", "json", "validate", *paths, str(good))
    assert code == 64
    document = json.loads(output)
    assert document["schema"] == "dcctl.validate/1"
    assert not document["valid"]
    by_path = {f["path"]: f for f in document["files"]}
    assert by_path[str(good)]["valid"] and by_path[str(good)]["kind"] == "workloads file"
    assert all(not by_path[p]["valid"] for p in paths)
    assert {by_path[p]["kind"] for p in paths} == set(KINDS)


def test_github_annotations_by_default_under_actions(tmp_path):
    text, line = BROKEN["playbook"]
    path = write(tmp_path, "playbook", text)
    code, output = run("-i", EXAMPLE, "validate", str(path), env={"GITHUB_ACTIONS": "true"})
    assert code == 64
    assert f"::error file={path},line={line}," in output


def test_files_that_refer_to_the_site_need_an_inventory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./inventory.yaml here
    monkeypatch.delenv("DCCTL_INVENTORY", raising=False)
    jobs = write(tmp_path, "jobs file", VALID["jobs file"])
    code, output = run("validate", str(jobs))
    assert code == 64
    assert "needs the inventory" in output and f"{jobs}:1:1" in output
    book = write(tmp_path, "playbook", VALID["playbook"])
    code, output = run("validate", str(book))
    assert code == 0, output
    assert "not checked: no -i" in output


def test_playbook_hosts_and_variables_are_checked_against_the_inventory(tmp_path):
    book = write(tmp_path, "playbook", VALID["playbook"].replace("@h100", "@h1000"))
    code, output = run("-i", EXAMPLE, "validate", str(book))
    assert code == 64
    assert f"{book}:2:" in output and "did you mean '@h100'" in output
    book.write_text(VALID["playbook"].replace("{{ rmem }}", "{{ rmme }}"))
    code, output = run("-i", EXAMPLE, "validate", str(book))
    assert code == 64
    assert f"{book}:4:" in output and "unknown variable '{{ rmme }}'" in output


def test_a_broken_inventory_is_reported_and_fails_the_run(tmp_path):
    inv = write(tmp_path, "inventory", BROKEN["inventory"][0])
    jobs = write(tmp_path, "jobs file", VALID["jobs file"])
    code, output = run("-i", str(inv), "validate", str(jobs), str(inv))
    assert code == 64
    assert output.count(f"{inv}:3:") == 1  # once, though named twice


def test_strict_fails_on_warnings(tmp_path):
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps({"schema": "dcctl.health.baseline/1",
                                    "hosts": {"gone042": {}}}))  # fmt: skip
    assert run("-i", EXAMPLE, "validate", str(baseline))[0] == 0
    code, output = run("-i", EXAMPLE, "validate", "--strict", str(baseline))
    assert code == 64 and "gone042" in output


def test_kind_forces_a_kind_and_unknown_kind_is_refused(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("something: else\n")
    code, output = run("-i", EXAMPLE, "validate", str(path))
    assert code == 64 and "cannot tell what kind" in output
    code, output = run("-i", EXAMPLE, "validate", "--kind", "jobs file", str(path))
    assert code == 64 and f"{path}:1:" in output
    code, output = run("-i", EXAMPLE, "validate", "--kind", "recipe", str(path))
    assert code == 64 and "one of" in output


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path):
    code, output = run("-i", EXAMPLE, "validate", str(tmp_path / "absent.yaml"))
    assert code == 64 and "cannot read" in output and "Traceback" not in output


def test_the_shipped_examples_are_valid():
    files = [str(p) for p in ROOT.glob("playbooks/*.yaml")]
    files += [str(ROOT / "jobs" / "example.yaml"), str(ROOT / "workloads" /
              "example-training.yaml"), EXAMPLE]  # fmt: skip
    code, output = run("-i", EXAMPLE, "validate", *files)
    assert code == 0, output


def test_check_file_api_reports_the_kind(tmp_path):
    path = write(tmp_path, "class map", VALID["class map"])
    from dcctl.inventory.loader import check_inventory

    inventory = check_inventory(EXAMPLE).inventory
    check = check_file(path, inventory)
    assert check.kind == "class map" and not check.errors


def test_a_variable_whose_value_does_not_fit_its_field_is_located(tmp_path):
    book = tmp_path / "mtu.yaml"
    book.write_text("name: m\nhosts: '@h100'\nvars:\n  mtu: jumbo\nresources:\n"
                    "  - {type: mtu, interface: ens1, mtu: '{{ mtu }}'}\n")  # fmt: skip
    code, output = run("-i", EXAMPLE, "validate", str(book))
    assert code == 64, output
    assert f"{book}:6:5:" in output and "resources[0].mtu" in output and "jumbo" in output
    book.write_text(book.read_text().replace("jumbo", "9000"))
    assert run("-i", EXAMPLE, "validate", str(book))[0] == 0
