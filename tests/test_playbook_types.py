"""Typed resources: every broken playbook is refused before any host is contacted, with its
exact message and location (exit 64); values from variables are typed the same way per host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.errors import PlaybookError, PlaybookFileError
from dcctl.inventory.loader import load_inventory
from dcctl.playbook.resources.registry import RESOURCE_TYPES
from dcctl.playbook.resources.services import ServiceResource
from dcctl.playbook.schema import build_resource, check_playbook, read_playbook
from dcctl.playbook.template import Vars

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "inventory" / "example.yaml")

# (resource as written on line 3, the exact diagnostic after "pb.yaml:")
BROKEN = [
    ('{type: service, name: x, enabled: "false"}',
     "resources[0].enabled: expected true or false, got 'false' (a string)"),
    ("{type: service, name: x, enabled: maybe}",
     "resources[0].enabled: expected true or false, got 'maybe' (a string)"),
    ("{type: service, name: x, active: 1}",
     "resources[0].active: expected true or false, got 1 (a number)"),
    ("{type: sysctl, name: vm.x, value: [1, 2]}",
     "resources[0].value: expected a single value (text or a number), got a list"),
    ("{type: gpu_power_limit, watts: -5}", "resources[0].watts: must be at least 1, got -5"),
    ("{type: mtu, interface: eth0, mtu: 99999999}",
     "resources[0].mtu: must be at most 65535, got 99999999"),
    ("{type: mtu, interface: eth0, mtu: 1500.5}",
     "resources[0].mtu: expected an integer, got 1500.5"),
    ('{type: file, path: /etc/x, content: y, mode: "rwxr"}',
     "resources[0].mode: 'rwxr' is not a valid file mode (for example '0644')"),
    ("{type: file, path: etc/x, content: y}",
     "resources[0].path: path must be absolute (start with '/'), got 'etc/x'"),
    ("{type: file, path: /etc/x, content: y, owner: 'root;id'}",
     "resources[0].owner: 'root;id' is not a valid owner (for example root or root:adm)"),
    ("{type: gpu_compute_mode, mode: shared}",
     "resources[0].mode: must be one of DEFAULT, EXCLUSIVE_PROCESS, PROHIBITED, "
     "got 'shared'"),
    ("{type: gpu_persistence, gpus: [0, -1]}",
     "resources[0].gpus: expected a GPU index or a list of them, got a list"),
    ("{type: line, path: /etc/x, line: y, state: gone}",
     "resources[0].state: must be one of present, absent, got 'gone'"),
    ("{type: command, command: \"echo 'unclosed\"}",
     "resources[0].command: No closing quotation (quote as a shell would, or give a list)"),
    ("{type: sysctl, name: vm.x, value: 1, file: true}",
     "resources[0].file: expected a string or false, got true (a boolean)"),
]  # fmt: skip


@pytest.mark.parametrize(("resource", "message"), BROKEN, ids=[b[1][13:45] for b in BROKEN])
def test_broken_resources_are_refused_with_their_location(tmp_path, resource, message):
    # The location is the value's: line 3, after "  - " and the field's "key: ".
    key = message.split(":")[0].split(".")[-1]
    column = 4 + resource.index(f"{key}: ") + len(key) + 2 + 1
    message = f"3:{column}: {message}"
    path = tmp_path / "pb.yaml"
    path.write_text(f"hosts: localhost\nresources:\n  - {resource}\n")
    with pytest.raises(PlaybookFileError) as err:
        read_playbook(path)
    assert [str(d) for d in err.value.diagnostics] == [f"{path}:{message}"]
    result = CliRunner().invoke(app, ["-i", EXAMPLE, "apply", str(path), "--dry-run"])
    assert result.exit_code == 64 and f"{path}:{message}" in result.output


def test_values_from_variables_are_typed_the_same_way_per_host(tmp_path):
    path = tmp_path / "pb.yaml"
    path.write_text(
        "hosts: localhost\nvars: {on: 'true', bad: maybe, mtu: '9000'}\nresources:\n"
        "  - {type: service, name: x, enabled: '{{ on }}'}\n"
        "  - {type: service, name: y, enabled: '{{ bad }}'}\n"
        "  - {type: mtu, interface: eth0, mtu: '{{ mtu }}'}\n"
    )
    book = read_playbook(path)
    variables = Vars(book.vars)
    service = build_resource(book.resources[0], variables)
    assert isinstance(service, ServiceResource) and service.enabled is True
    with pytest.raises(PlaybookError, match=r"resources\[1\].enabled: expected true or false"):
        build_resource(book.resources[1], variables)
    assert build_resource(book.resources[2], variables).mtu == 9000


def test_hosts_and_unknown_variables_are_found_before_any_host(tmp_path):
    inventory = load_inventory(EXAMPLE)
    path = tmp_path / "pb.yaml"
    path.write_text(
        "hosts: '@h10'\nresources:\n"
        "  - {type: file, path: '/etc/{{ nvidia_drivr }}', content: x, hosts: gpu001}\n"
    )
    with pytest.raises(PlaybookFileError) as err:
        check_playbook(read_playbook(path), inventory)
    assert [str(d) for d in err.value.diagnostics] == [
        f"{path}:1:8: hosts: unknown group '@h10' (did you mean '@h100'?)",
    ]
    path.write_text(
        "hosts: '@h100'\nresources:\n"
        "  - {type: file, path: '/etc/{{ nvidia_drivr }}', content: x}\n"
        "  - {type: file, path: '/etc/{{ nvidia_driver }}', content: x}\n"
    )
    with pytest.raises(PlaybookFileError) as err:
        check_playbook(read_playbook(path), inventory)
    (d,) = err.value.diagnostics
    assert str(d).startswith(f"{path}:3:5: resources[0].path: unknown variable")
    assert "(did you mean 'nvidia_driver'?)" in str(d) and "gpu[001-016]" in str(d)


def test_every_type_is_declared_once_with_typed_fields():
    assert set(RESOURCE_TYPES) == {
        "file", "line", "sysctl", "command", "gpu_power_limit", "gpu_persistence",
        "gpu_compute_mode", "service", "package", "kernel_module", "mtu",
    }  # fmt: skip
    for rt in RESOURCE_TYPES.values():
        assert rt.help and all(f.help for f in rt.fields)


def test_a_valid_playbook_plans_as_before(tmp_path):
    path = tmp_path / "pb.yaml"
    path.write_text(json.dumps({"hosts": "localhost", "resources": [
        {"type": "file", "path": f"{tmp_path}/f", "content": "x", "mode": "0600"},
    ]}))  # fmt: skip
    result = CliRunner().invoke(app, ["-i", EXAMPLE, "apply", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
