"""How SSH settings combine: the inventory over ~/.ssh/config over defaults (no network)."""

from __future__ import annotations

import textwrap

from dcctl.inventory.loader import load_inventory
from dcctl.transport.hostkeys import KnownHosts
from dcctl.transport.ssh import SshContext


def test_inventory_over_ssh_config(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(
        textwrap.dedent(
            """\
            Host gpu*
              HostName %h.dc.example.net
              User cfguser
              Port 2200
              IdentityFile ~/.ssh/cfg_key
              ProxyJump bastion.example.net
              ConnectTimeout 7
            Host *
              User fallback
            """
        )
    )
    inv = tmp_path / "inv.yaml"
    inv.write_text(
        textwrap.dedent(
            """\
            hosts:
              - name: gpu1
              - name: gpu2
                address: 10.0.0.2
                ssh: {user: ops, port: 22, proxy_jump: none, host_key_policy: accept-new}
              - name: login
            """
        )
    )
    hosts = load_inventory(inv).hosts
    context = SshContext(known_hosts=KnownHosts(tmp_path / "kh", None), config_path=config)
    gpu1 = context.endpoint(hosts["gpu1"].target)
    assert (gpu1.hostname, gpu1.user, gpu1.port, gpu1.proxy_jump, gpu1.connect_timeout) == (
        "gpu1.dc.example.net",
        "cfguser",
        2200,
        "bastion.example.net",
        7.0,
    )
    assert gpu1.identities[0].endswith("/.ssh/cfg_key")
    gpu2 = context.endpoint(hosts["gpu2"].target)
    assert (gpu2.hostname, gpu2.user, gpu2.port, gpu2.proxy_jump, gpu2.host_key_policy) == (
        "10.0.0.2",
        "ops",
        22,
        None,
        "accept-new",
    )
    login = context.endpoint(hosts["login"].target)
    assert (login.hostname, login.user, login.port, login.host_key_policy) == (
        "login",
        "fallback",
        22,
        "strict",
    )


def test_known_hosts_plain_and_hashed_entries(tmp_path):
    import paramiko
    import pytest

    from dcctl.transport.base import HostKeyError

    good = paramiko.Ed25519Key.from_private_key_file(str(_key(tmp_path, "good")))
    other = paramiko.Ed25519Key.from_private_key_file(str(_key(tmp_path, "other")))
    hashed = paramiko.HostKeys.hash_host("[10.0.0.9]:2222")
    (tmp_path / "kh").write_text(
        f"10.0.0.8 ssh-ed25519 {good.get_base64()}\n{hashed} ssh-ed25519 {good.get_base64()}\n"
    )
    known = KnownHosts(tmp_path / "kh", None)
    known.check("10.0.0.8", 22, good, "strict")
    known.check("10.0.0.9", 2222, good, "strict")  # found through the hashed entry
    with pytest.raises(HostKeyError, match="HOST KEY CHANGED"):
        known.check("10.0.0.9", 2222, other, "accept-new")
    with pytest.raises(HostKeyError, match="unknown host key"):
        known.check("10.0.0.10", 22, good, "strict")
    known.check("10.0.0.10", 22, good, "accept-new")
    assert "10.0.0.10 ssh-ed25519" in (tmp_path / "kh").read_text()
    known.check("10.0.0.10", 22, good, "strict")  # now known, in this run too


def _key(tmp_path, name):
    import subprocess

    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path
