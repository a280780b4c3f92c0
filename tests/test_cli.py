"""The CLI: global options, exit codes, output formats, and no tracebacks on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl import __version__
from dcctl.cli import app
from dcctl.cli.app import hoist_global_options
from dcctl.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "inventory" / "example.yaml")


@pytest.fixture()
def runner(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("DCCTL_INVENTORY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return CliRunner()


def run(runner, *args, env=None):
    return runner.invoke(app, list(args), env=env)


def test_version(runner):
    result = run(runner, "--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"dcctl {__version__}"


def test_hoisting_global_options():
    assert hoist_global_options(["inventory", "list", "-o", "json", "-i", "x.yaml", "-q"]) == [
        "-o",
        "json",
        "-i",
        "x.yaml",
        "-q",
        "inventory",
        "list",
    ]
    assert hoist_global_options(["inventory", "list", "--output=json", "--", "-q"]) == [
        "--output=json",
        "inventory",
        "list",
        "--",
        "-q",
    ]


def test_list_json_after_subcommand(runner):
    result = run(
        runner, "inventory", "list", "-i", EXAMPLE, "--limit", "@canary", "--output", "json"
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "dcctl.inventory.list/1" and document["count"] == 2
    records = document["hosts"]
    assert [r["name"] for r in records] == ["gpu001", "gpu009"]
    assert records[1]["rack"] == "rack-a2" and records[1]["pdus"] == ["pdu-a2-a", "pdu-a2-b"]
    assert records[0]["feeds"] == ["feed-a", "feed-b"]


def test_list_jsonl_and_fold(runner):
    result = run(
        runner, "-i", EXAMPLE, "-o", "jsonl", "inventory", "list", "-l", "@rack-a1 - gpu001"
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 7 and json.loads(lines[0])["name"] == "gpu002"
    assert {json.loads(line)["schema"] for line in lines} == {"dcctl.inventory.host/1"}
    result = run(runner, "-i", EXAMPLE, "inventory", "list", "--fold", "-l", "@h100 - gpu005")
    assert result.stdout == "gpu[001-004,006-016]\n"
    result = run(
        runner, "-i", EXAMPLE, "-o", "json", "inventory", "list", "--fold", "-l", "@canary"
    )
    assert json.loads(result.stdout) == {
        "schema": "dcctl.inventory.fold/1",
        "hosts": "gpu[001,009]",
        "count": 2,
    }


def test_list_table_is_plain_text_in_a_pipe(runner):
    result = run(runner, "-i", EXAMPLE, "inventory", "list", "-l", "@canary")
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout
    assert "gpu009" in result.stdout and "10.10.1.19" in result.stdout
    assert "2 hosts: gpu[001,009]" in result.stdout


def test_inventory_from_environment(runner):
    result = run(runner, "inventory", "list", "--fold", env={"DCCTL_INVENTORY": EXAMPLE})
    assert result.stdout == "gpu[001-016],localhost\n"


def test_missing_inventory_names_both_defaults(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(runner, "inventory", "list")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "$DCCTL_INVENTORY" in result.stderr and "./inventory.yaml" in result.stderr
    assert "Traceback" not in result.output


def test_show_lists_sources(runner):
    result = run(runner, "-i", EXAMPLE, "-o", "json", "inventory", "show", "gpu010")
    data = json.loads(result.stdout)
    settings = {row["setting"]: row for row in data["settings"] if row["setting"] != "group"}
    assert settings["address"]["value"] == "10.10.1.20"
    assert settings["address"]["source"].endswith("example.yaml:56:14")
    assert settings["vars.nvidia_driver"]["origin"] == "group 'h100'"
    assert settings["rack"]["value"] == "rack-a2"
    groups = [row["value"] for row in data["settings"] if row["setting"] == "group"]
    assert groups == ["h100", "training"]


def test_show_unknown_host(runner):
    result = run(runner, "-i", EXAMPLE, "inventory", "show", "gpu17")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "unknown host 'gpu17'" in result.stderr


def test_tree_text_and_json(runner):
    result = run(runner, "-i", EXAMPLE, "inventory", "tree")
    assert result.exit_code == 0
    assert "rack rack-a1  81.6 kW / 90.0 kW budget (91%)" in result.stdout
    assert "feed feed-a (panel mdb-1, 415 V × 200 A × √3 × 80%)" in result.stdout
    data = json.loads(run(runner, "-i", EXAMPLE, "-o", "json", "inventory", "tree").stdout)
    assert data["sites"][0]["feeds"][0]["available_w"] == pytest.approx(115008.2, abs=0.1)


BROKEN = (
    "hosts:\n  - name: gpu[001-004]\n    profile: h200x8\nprofiles:\n  h200-8x: {baseline_w: 1}\n"
)


def test_validate_text_exit_code_and_no_traceback(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("inventory.yaml").write_text(BROKEN)
    result = run(runner, "inventory", "validate")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stdout.splitlines() == [
        "inventory.yaml:3:14: hosts[0].profile: unknown profile 'h200x8' (did you mean 'h200-8x'?)",
        "inventory.yaml: 1 error, 0 warnings",
    ]
    assert "Traceback" not in result.output


def test_validate_github_annotations(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("inventory.yaml").write_text(BROKEN)
    result = run(runner, "inventory", "validate", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stdout.splitlines()[0] == (
        "::error file=inventory.yaml,line=3,col=14,title=dcctl inventory::"
        "hosts[0].profile: unknown profile 'h200x8' (did you mean 'h200-8x'?)"
    )


def test_validate_json_several_files(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(BROKEN)
    result = run(runner, "inventory", "validate", "--format", "json", EXAMPLE, "bad.yaml")
    assert result.exit_code == ExitCode.INVALID_INPUT
    document = json.loads(result.stdout)
    assert document["schema"] == "dcctl.validate/1" and document["valid"] is False
    assert document["errors"] == 1
    data = document["files"]
    assert [d["valid"] for d in data] == [True, False]
    assert [d["path"] for d in data] == [EXAMPLE, "bad.yaml"]
    assert data[0]["hosts"] == 17
    assert data[1]["diagnostics"][0] == {
        "severity": "error",
        "file": "bad.yaml",
        "line": 3,
        "column": 14,
        "path": "hosts[0].profile",
        "message": "unknown profile 'h200x8' (did you mean 'h200-8x'?)",
    }


def test_validate_ok_and_strict(runner, tmp_path, monkeypatch):
    result = run(runner, "inventory", "validate", EXAMPLE)
    assert result.exit_code == 0
    assert "valid (17 hosts, 4 groups, 2 racks, 4 PDUs, 2 feeds)" in result.stdout
    monkeypatch.chdir(tmp_path)
    Path("w.yaml").write_text(
        "profiles: {p: {nominal_w: 900}}\nhosts: [{name: n1, profile: p}]\n"
        "sites: [{name: s, rooms: [{name: h, racks: "
        "[{name: r, hosts: n1, power_budget_w: 500}]}]}]\n"
    )
    assert run(runner, "inventory", "validate", "w.yaml").exit_code == 0
    assert (
        run(runner, "inventory", "validate", "--strict", "w.yaml").exit_code
        == ExitCode.INVALID_INPUT
    )


def test_commands_on_broken_inventory_exit_2_with_diagnostics(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("inventory.yaml").write_text(BROKEN)
    for args in (["inventory", "list"], ["inventory", "tree"], ["inventory", "show", "gpu001"]):
        result = run(runner, *args)
        assert result.exit_code == ExitCode.INVALID_INPUT
        assert "inventory.yaml:3:14: hosts[0].profile" in result.stderr
        assert "Traceback" not in result.output


def test_bad_limit_exit_2(runner):
    result = run(runner, "-i", EXAMPLE, "inventory", "list", "--limit", "@nope")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr.strip() == "dcctl: error: unknown group '@nope'"


def test_usage_errors_exit_with_invalid_input(runner):
    result = run(runner, "-i", EXAMPLE, "-o", "yaml", "inventory", "list")
    assert result.exit_code == ExitCode.INVALID_INPUT == 64
    result = run(runner, "-i", EXAMPLE, "inventory", "list", "--bogus")
    assert result.exit_code == ExitCode.INVALID_INPUT


def test_internal_error_is_reported_without_traceback_unless_verbose(runner, monkeypatch):
    import dcctl.cli.inventory_cmd as cmd

    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cmd, "power_tree", boom)
    result = run(runner, "-i", EXAMPLE, "inventory", "tree")
    assert result.exit_code == 70
    assert "internal error: RuntimeError: kaboom" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(runner, "-v", "-i", EXAMPLE, "inventory", "tree")
    assert result.exit_code == 70 and "Traceback" in result.stderr


def test_python_dash_m_entry_point(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "DCCTL_INVENTORY")}
    bad = tmp_path / "inventory.yaml"
    bad.write_text(BROKEN)
    proc = subprocess.run(
        [sys.executable, "-m", "dcctl", "inventory", "validate", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == ExitCode.INVALID_INPUT
    assert "unknown profile 'h200x8'" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "dcctl", "--no-color", "-i", EXAMPLE, "inventory", "list", "--fold"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout == "gpu[001-016],localhost\n"


def test_colour_only_when_allowed(runner):
    args = ["-i", EXAMPLE, "inventory", "validate", "--format", "text"]
    coloured = run(runner, *args, env={"FORCE_COLOR": "1"})
    assert "\x1b[" in coloured.stdout
    assert "\x1b[" not in run(runner, "--no-color", *args, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in run(runner, *args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout


def test_probe_help_names_every_probe():
    from dcctl.cli.probe_cmd import PROBE_NAMES
    from dcctl.probes.registry import PROBES

    assert tuple(PROBES) == PROBE_NAMES


def test_probe_from_the_h100_capture_bundle(runner):
    bundle = ROOT / "tests" / "fixtures" / "h100-idle"
    result = run(runner, "-o", "json", "probe", "--from-bundle", str(bundle), "-i", EXAMPLE)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "dcctl.probe/1"
    (doc,) = document["hosts"]
    assert doc["host"] == "h100-idle" and doc["status"] == "ok"
    gpu = doc["results"]["gpu"]
    assert gpu["driver_version"] == "580.159.04" and len(gpu["gpus"]) == 1
    assert doc["results"]["system"]["os_name"] == "Ubuntu 24.04.3 LTS"
    table = run(runner, "probe", "--from-bundle", str(bundle), "-i", EXAMPLE)
    assert "h100-idle   1× NVIDIA H100 80GB HBM3, driver 580.159.04, PCIe 5×16" in table.stdout


def test_probe_unknown_probe_name(runner):
    result = run(runner, "-i", EXAMPLE, "probe", "-p", "gpus")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "unknown probe 'gpus' (did you mean 'gpu'?)" in result.stderr
