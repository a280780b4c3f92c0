"""``dcctl inventory export``: each format read back by its real consumer.

OpenSSH (``ssh -G HOST -F exported``), ClusterShell's own library, ``promtool check config``
(which parses the file_sd targets), and ``ansible-inventory --list`` (ansible-core in a venv of
its own, built from requirements-ansible.lock: slow the first time, then reused).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.errors import InputError
from dcctl.inventory.export import ansible_group, export
from dcctl.inventory.loader import load_inventory

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example.yaml"
ANSIBLE_VENV = ROOT / ".venv-ansible"

SITE = textwrap.dedent("""\
    defaults:
      ssh: {user: ops, identity_file: ~/.ssh/dcctl_ed25519, connect_timeout: 7}
      vars: {ntp_server: ntp.example.net}
    groups:
      h100: {hosts: "gpu*", vars: {nvidia_driver: "580.159.04"}}
      edge-ring: {hosts: "edge1"}
    hosts:
      - name: gpu[001-004]
        address: 10.0.0.[11-14]
        ssh: {port: 2222, proxy_jump: jump@bastion.example.net:2200}
        vars: {slot: 3}
      - name: edge1
        ssh: {host_key_policy: accept-new, user: root}
      - name: here
        transport: local
    sites:
      - name: ams1
        feeds: [{name: feed-a, voltage: 230, amps: 32, phase: single, max_utilization: 80}]
        rooms:
          - name: hall-1
            racks:
              - name: rack-a1
                hosts: "gpu[001-004]"
                pdus: [{name: pdu-a1, feed: feed-a, hosts: "gpu[001-004]"}]
    """)


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text(SITE)
    return load_inventory(path), path


def exported(path: Path, fmt: str, tmp_path: Path, suffix: str = ".txt") -> Path:
    out = tmp_path / f"export-{fmt}{suffix}"
    result = CliRunner().invoke(app, ["-i", str(path), "inventory", "export", "--format", fmt,
                                      "--to", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.skipif(shutil.which("ssh") is None and not os.environ.get("CI"),
                    reason="OpenSSH client not installed (.ci/run installs it)")  # fmt: skip
def test_openssh_reads_the_same_settings(site, tmp_path):
    inventory, path = site
    config = exported(path, "ssh-config", tmp_path)
    home = Path.home()
    for name, host in inventory.hosts.items():
        run = subprocess.run(["ssh", "-G", "-F", str(config), name], capture_output=True,
                             text=True, check=False)  # fmt: skip
        if host.transport == "local":
            assert f"Host {name}" not in config.read_text()
            continue
        assert run.returncode == 0, run.stderr
        got: dict[str, list[str]] = {}
        for line in run.stdout.splitlines():
            key, _, value = line.partition(" ")
            got.setdefault(key, []).append(value)
        assert got["hostname"] == [host.address]
        assert got["user"] == [host.ssh.user]
        assert got["port"] == [str(host.ssh.port or 22)]
        assert [os.path.expanduser(f) for f in got["identityfile"]] == [
            host.ssh.identity_file.replace("~", str(home), 1)]  # fmt: skip
        assert got.get("proxyjump", ["none"]) == [host.ssh.proxy_jump or "none"]
        policy = "accept-new" if host.ssh.host_key_policy == "accept-new" else "true"
        assert got["stricthostkeychecking"] == [policy]
        assert got["connecttimeout"] == ["7"]


def test_clustershell_resolves_the_same_groups(site, tmp_path):
    from ClusterShell.NodeSet import NodeSet as ClusterShellNodeSet
    from ClusterShell.NodeUtils import GroupResolverConfig

    inventory, path = site
    groups_dir = tmp_path / "groups.d"
    groups_dir.mkdir()
    shutil.copy(exported(path, "clustershell", tmp_path), groups_dir / "dcctl.yaml")
    conf = tmp_path / "groups.conf"
    conf.write_text(f"[Main]\ndefault: dcctl\nautodir: {groups_dir}\n")
    resolver = GroupResolverConfig(str(conf))
    expressions = [f"@{g}" for g in inventory.groups] + ["@all"]
    expressions += [f"@{kind}:{name}" for kind, groups in inventory.auto_groups.items()
                    for name, hosts in groups.items() if hosts]  # fmt: skip
    assert "@rack:rack-a1" in expressions and "@pdu:pdu-a1" in expressions
    for expression in expressions:
        theirs = set(ClusterShellNodeSet(expression, resolver=resolver))
        ours = set(inventory.select(expression))
        assert theirs == ours, expression
    assert str(ClusterShellNodeSet("@h100", resolver=resolver)) == str(inventory.select("@h100"))


@pytest.mark.skipif(shutil.which("promtool") is None and not os.environ.get("CI"),
                    reason="promtool not installed (.ci/run installs it)")  # fmt: skip
def test_promtool_accepts_the_file_sd_targets(site, tmp_path):
    inventory, path = site
    targets = exported(path, "prometheus-sd", tmp_path, ".json")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        textwrap.dedent(f"""\
        scrape_configs:
          - job_name: node
            file_sd_configs: [{{files: ["{targets}"]}}]
        """)
    )
    run = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr
    entries = json.loads(targets.read_text())
    by_host = {e["labels"]["host"]: e for e in entries}
    assert set(by_host) == set(inventory.hosts)
    assert by_host["gpu002"]["targets"] == ["10.0.0.12:9100"]
    assert by_host["gpu002"]["labels"]["rack"] == "rack-a1"
    assert by_host["gpu002"]["labels"]["groups"] == ",h100,"
    bad = tmp_path / "broken.json"  # promtool really parses them: a broken file fails
    bad.write_text('[{"targets": "not a list"}]')
    config.write_text(config.read_text().replace(str(targets), str(bad)))
    run = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert run.returncode != 0


def test_hosts_file_lists_ip_addresses_only(site):
    inventory, _ = site
    lines = export(inventory, "hosts").splitlines()[1:]
    assert lines == [f"10.0.0.{10 + i}\tgpu00{i}" for i in range(1, 5)]


def test_ansible_group_names():
    assert ansible_group("rack_rack-a1") == "rack_rack_a1"
    assert ansible_group("1st") == "_1st"


def test_unknown_format_is_bad_input(site):
    _, path = site
    result = CliRunner().invoke(app, ["-i", str(path), "inventory", "export", "--format", "x"])
    assert result.exit_code == 64 and "unknown export format 'x'" in result.output


@pytest.fixture(scope="session")
def ansible_inventory():
    """ansible-inventory from a venv of its own (hash-pinned), built once and kept."""
    exe = ANSIBLE_VENV / "bin" / "ansible-inventory"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
        subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", "--require-hashes",
                        "-r", str(ROOT / "requirements-ansible.lock")], check=True)  # fmt: skip
    return exe


@pytest.mark.slow
def test_ansible_lists_the_same_hosts_groups_and_vars(site, tmp_path, ansible_inventory):
    inventory, path = site
    out = exported(path, "ansible", tmp_path, ".yaml")
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
           "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
           "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}  # fmt: skip
    run = subprocess.run([str(ansible_inventory), "-i", str(out), "--list"], capture_output=True,
                         text=True, check=False, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    listed = json.loads(run.stdout)
    hostvars = listed["_meta"]["hostvars"]
    assert set(hostvars) == set(inventory.hosts)
    gpu = hostvars["gpu002"]
    assert gpu["ansible_host"] == "10.0.0.12" and gpu["ansible_port"] == 2222
    assert gpu["ansible_user"] == "ops" and gpu["slot"] == 3
    assert gpu["nvidia_driver"] == "580.159.04" and gpu["ntp_server"] == "ntp.example.net"
    assert "ProxyJump=jump@bastion.example.net:2200" in gpu["ansible_ssh_common_args"]
    assert hostvars["here"]["ansible_connection"] == "local"
    assert hostvars["edge1"]["ansible_host"] == "edge1"

    def members(group: str) -> set[str]:
        entry = listed.get(group, {})
        found = set(entry.get("hosts", []))
        for child in entry.get("children", []):
            found |= members(child)
        return found

    assert members("h100") == set(inventory.select("@h100"))
    assert members("edge_ring") == {"edge1"}
    assert members("rack_rack_a1") == set(inventory.select("@rack:rack-a1"))
    assert members("all") == set(inventory.hosts)


def test_hostile_values_cannot_inject_ssh_config_directives(tmp_path):
    """A newline in identity_file would be a ProxyCommand in the file users then trust."""
    evil = tmp_path / "evil.yaml"
    injected = "/tmp/k\\nProxyCommand touch /tmp/pwned"
    evil.write_text(f'hosts:\n  - name: h1\n    address: 10.0.0.1\n'
                    f'    ssh: {{identity_file: "{injected}"}}\n')  # fmt: skip
    result = CliRunner().invoke(app, ["-i", str(evil), "inventory", "export", "-F", "ssh-config"])
    assert result.exit_code == 64
    assert "evil.yaml:4:" in result.output and "identity_file: must be one line" in result.output
    assert "ProxyCommand" not in result.stdout
    from dcctl.inventory.export import _ssh_value

    with pytest.raises(InputError):
        _ssh_value('/tmp/a" ProxyCommand "x')


@pytest.mark.skipif(shutil.which("ssh") is None and not os.environ.get("CI"),
                    reason="OpenSSH client not installed (.ci/run installs it)")  # fmt: skip
def test_a_key_path_with_spaces_reads_back_whole(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text('hosts:\n  - name: h1\n    address: 10.0.0.1\n'
                    '    ssh: {identity_file: "/keys/my key/id_ed25519"}\n')  # fmt: skip
    config = exported(path, "ssh-config", tmp_path)
    run = subprocess.run(["ssh", "-G", "-F", str(config), "h1"], capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert "identityfile /keys/my key/id_ed25519" in run.stdout.splitlines()
