"""The inventory's ``scheduler:`` section: resolution, located errors, hostile values."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.inventory.loader import check_inventory, load_inventory
from dcctl.inventory.scheduler import node_name_for
from dcctl.scheduler.scope import slurm_scopes


def write(tmp_path, text):
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return path


def errors(tmp_path, text):
    result = check_inventory(write(tmp_path, text))
    return [f"{d.loc.line}:{d.loc.col}: {d.path}: {d.message}" for d in result.errors]


def test_settings_layer_and_node_names_resolve(tmp_path):
    inv = load_inventory(
        write(
            tmp_path,
            """\
defaults:
  scheduler: {run_on: ctl, timeout: 5, resume_after: 4}
groups:
  h100:
    hosts: "gpu*"
    scheduler: {reason_prefix: "ops:", node_name: "{short}"}
hosts:
  - name: gpu[001-002].dc.example.net
  - name: login1
    scheduler: {node_name: {login1: head}}
  - name: ctl
    scheduler: {run_on: local}
""",
        )
    )
    gpu = inv.hosts["gpu001.dc.example.net"]
    assert gpu.slurm_node == "gpu001" and gpu.scheduler.reason_prefix == "ops:"
    assert gpu.scheduler.run_on == "ctl" and gpu.scheduler.timeout == 5.0
    assert gpu.scheduler.resume_after == 4 and gpu.scheduler.configured
    assert inv.hosts["login1"].slurm_node == "head"
    assert inv.hosts["ctl"].slurm_node == "ctl" and inv.hosts["ctl"].scheduler.run_on == "local"
    assert gpu.settings["scheduler.reason_prefix"].origin == "group 'h100'"
    scopes = slurm_scopes(inv, list(inv.hosts))
    assert [sorted(s.nodes.values()) for s in scopes] == [["gpu001", "gpu002"], ["head"], ["ctl"]]


def test_without_a_section_the_built_in_defaults_apply(tmp_path):
    host = load_inventory(write(tmp_path, "hosts:\n  - gpu001\n")).hosts["gpu001"]
    assert host.slurm_node == "gpu001" and not host.scheduler.configured
    assert (host.scheduler.run_on, host.scheduler.reason_prefix) == ("local", "dcctl:")


def test_node_name_patterns():
    assert node_name_for("gpu001.example.net", "{short}") == "gpu001"
    assert node_name_for("gpu001", "n-{name}") == "n-gpu001"
    assert node_name_for("gpu002", {"gpu001": "a"}) == "gpu002"  # not in the map: its name
    assert node_name_for("gpu001", None) == "gpu001"


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        ("{type: pbs}", "scheduler.type: must be one of 'slurm', got 'pbs'"),
        ("{typo: 1}", "unknown field 'typo' (did you mean 'type'?)"),
        ("{run_on: ctll}", "'ctll' is not 'local' or a host (did you mean 'ctl'?)"),
        ("{run_on: '-oProxyCommand=x'}", "is not 'local' or a host name"),
        ("{node_name: '{nam}'}", "unknown placeholder '{nam}' (did you mean 'name'?)"),
        ("{node_name: '$(reboot)'}", "'$(reboot)' is not a Slurm node name"),
        ("{node_name: '-x'}", "'-x' is not a Slurm node name"),
        ("{node_name: 'a=b'}", "'a=b' is not a Slurm node name"),
        ('{node_name: "a\\nb"}', "is not a Slurm node name"),
        ('{node_name: "a\\0b"}', "is not a Slurm node name"),
        ("{node_name: '" + "n" * 5000 + "'}", "is not a Slurm node name"),
        ("{node_name: '{name'}", "is not a pattern"),
        ("{node_name: {gpu001: [a]}}", "expected a string, got a list"),
        ("{node_name: 7}", "expected a string, got an integer"),
        ("{reason_prefix: 'two words'}", "must be one word"),
        ('{reason_prefix: "x\\ny"}', "must be one word"),
        ("{timeout: 0}", "must be greater than 0, got 0"),
        ("{timeout: 601}", "must be at most 600"),
        ("{resume_after: 0}", "must be at least 1, got 0"),
        ("{resume_after: true}", "expected an integer, got a boolean"),
        ("[slurm]", "expected a mapping"),
    ],
)
def test_bad_values_are_located(tmp_path, scheduler, expected):
    found = errors(tmp_path, f"hosts:\n  - name: gpu001\n    scheduler: {scheduler}\n  - ctl\n")
    assert found, "accepted"
    assert any(expected in e for e in found), found
    assert all(e.startswith("3:") for e in found), found  # on the scheduler line


def test_two_hosts_on_one_slurm_node_is_an_error_once(tmp_path):
    found = errors(tmp_path, "defaults:\n  scheduler: {node_name: same}\n"
                             "hosts:\n  - gpu[001-004]\n")  # fmt: skip
    assert found == ["2:26: defaults.scheduler.node_name: hosts gpu[001-004] are all "
                     "Slurm node 'same'"]  # fmt: skip


def test_validate_and_show_in_the_cli(tmp_path):
    path = write(tmp_path, "hosts:\n  - name: gpu001.x\n    scheduler: {node_name: '{short}'}\n")
    shown = CliRunner().invoke(app, ["-i", str(path), "inventory", "show", "gpu001.x"])
    assert shown.exit_code == 0 and "scheduler.node " in shown.output
    assert "gpu001 " in shown.output
    bad = write(tmp_path, "hosts:\n  - name: gpu001\n    scheduler: {run_on: nowhere}\n")
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 64
    assert f"{bad}:3:25: hosts[0].scheduler.run_on: 'nowhere' is not 'local' or a host" in (
        result.output
    )
