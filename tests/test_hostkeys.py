"""known_hosts read exactly as OpenSSH reads it: wildcards, negation, hashed names, @revoked,
@cert-authority and broken lines; accept-new never accepts a changed key, however it matched."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import paramiko
import pytest

from dcctl.errors import TransportError
from dcctl.transport.base import HostKeyError
from dcctl.transport.hostkeys import KnownHosts, host_id, parse_known_hosts
from dcctl.transport.ssh import SshContext, SshTransport
from dcctl.transport.target import SshSettings, Target
from tests.sshd_harness import SshServer, new_key, sshd_available


def key(tmp_path, name):
    return new_key(tmp_path / name)


def line(names: str, k: paramiko.PKey, marker: str = "") -> str:
    return f"{marker + ' ' if marker else ''}{names} {k.get_name()} {k.get_base64()}\n"


def hashed(name: str) -> str:
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def known(tmp_path, text: str) -> KnownHosts:
    path = tmp_path / "known_hosts"
    path.write_text(text)
    return KnownHosts(path, None)


@pytest.mark.parametrize(
    "names",
    [
        "10.0.0.*",
        "10.0.0.?",
        "*.example.org,10.0.0.5",
        "gpu*,10.0.*.5",
        "HASHED",
        "[10.0.0.5]:22,10.0.0.5",
    ],
)
def test_accept_new_refuses_a_changed_key_however_the_host_matched(tmp_path, names):
    recorded, offered = key(tmp_path, "a"), key(tmp_path, "b")
    names = hashed("10.0.0.5") if names == "HASHED" else names
    hosts = known(tmp_path, line(names, recorded))
    hosts.check("10.0.0.5", 22, recorded, "accept-new")  # the recorded key is fine
    with pytest.raises(HostKeyError, match=r"HOST KEY CHANGED for 10\.0\.0\.5"):
        hosts.check("10.0.0.5", 22, offered, "accept-new")
    assert (tmp_path / "known_hosts").read_text().count("\n") == 1  # nothing appended


def test_ports_and_negation_follow_openssh(tmp_path):
    recorded, offered = key(tmp_path, "a"), key(tmp_path, "b")
    hosts = known(tmp_path, line("[10.0.0.5]:2222", recorded) + line("10.0.*,!10.0.0.9", recorded))
    with pytest.raises(HostKeyError, match=r"CHANGED for \[10.0.0.5\]:2222"):
        hosts.check("10.0.0.5", 2222, offered, "accept-new")
    # 10.0.0.9 is excluded by the negation: unknown, so accept-new records it.
    hosts.check("10.0.0.9", 22, offered, "accept-new")
    assert "10.0.0.9 ssh-ed25519" in (tmp_path / "known_hosts").read_text()
    hosts.check("10.0.0.9", 22, offered, "strict")  # recorded now, in memory too
    # Brackets are literal, not a character class: [10.0.0.*]:2222 matches [10.0.0.7]:2222.
    wild = known(tmp_path, line("[10.0.0.*]:2222", recorded))
    with pytest.raises(HostKeyError, match="CHANGED"):
        wild.check("10.0.0.7", 2222, offered, "accept-new")
    with pytest.raises(HostKeyError, match="unknown host key"):
        wild.check("10.0.0.7", 22, offered, "strict")


def test_unknown_host_strict_refuses_accept_new_records(tmp_path):
    hosts = known(tmp_path, "")
    k = key(tmp_path, "a")
    with pytest.raises(HostKeyError, match="unknown host key"):
        hosts.check("10.1.1.1", 22, k, "strict")
    hosts.check("10.1.1.1", 22, k, "accept-new")
    assert KnownHosts(tmp_path / "known_hosts", None).known_types("10.1.1.1", 22) == ["ssh-ed25519"]


def test_revoked_key_is_refused_even_when_also_recorded(tmp_path):
    k = key(tmp_path, "a")
    hosts = known(tmp_path, line("10.0.0.5", k) + line("*", k, "@revoked"))
    for policy in ("strict", "accept-new"):
        with pytest.raises(HostKeyError, match=r"REVOKED host key for 10\.0\.0\.5"):
            hosts.check("10.0.0.5", 22, k, policy)


def test_cert_authority_and_broken_lines_are_skipped_with_warnings(tmp_path, caplog):
    good, ca = key(tmp_path, "a"), key(tmp_path, "ca")
    text = (
        line("*.example.org", ca, "@cert-authority")
        + "garbage\n"
        + "10.0.0.7 ssh-ed25519 !!!not-base64!!!\n"
        + line("10.0.0.5", good)
        + "@future 10.0.0.8 ssh-ed25519 AAAA\n"
    )
    hosts = known(tmp_path, text)
    path = tmp_path / "known_hosts"
    assert hosts.warnings == [
        f"{path}:1: @cert-authority skipped (dcctl does not check host certificates; "
        "hosts known only through this CA are unknown to dcctl)",
        f"{path}:2: not 'hosts keytype key': line skipped",
        f"{path}:3: the key is not valid base64: line skipped",
        f"{path}:5: unknown marker '@future': line skipped",
    ]
    hosts.check("10.0.0.5", 22, good, "strict")  # the good line still counts
    assert any("@cert-authority" in r.getMessage() for r in caplog.records)


def test_parser_keeps_order_and_locations():
    entries, warnings = parse_known_hosts("# c\n\na,b ssh-ed25519 AAAA\n", "kh")
    assert warnings == [] and entries[0].patterns == ("a", "b") and entries[0].where == "kh:3"


reason = sshd_available()


@pytest.mark.skipif(reason is not None and not os.environ.get("CI"), reason=reason or "")
def test_real_sshd_behind_a_wildcard_entry_with_another_key_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    client = new_key(home / ".ssh" / "id_ed25519")
    server = SshServer("kh", "127.0.0.41", tmp_path / "kh", [f"ssh-ed25519 {client.get_base64()}"])
    server.start()
    try:
        monkeypatch.setenv("HOME", str(home))
        other = new_key(tmp_path / "other")
        known_file = home / ".ssh" / "known_hosts"
        target = Target(
            "kh",
            server.address,
            SshSettings(user="root", port=server.port, identity_file=str(home / ".ssh/id_ed25519"),
                        host_key_policy="accept-new", connect_timeout=5),
            address_is_explicit=True,
        )  # fmt: skip
        for entry in (f"[127.0.0.*]:{server.port}", hashed(host_id(server.address, server.port))):
            known_file.write_text(line(entry, other))
            context = SshContext(known_hosts=KnownHosts(known_file, None), use_agent=False)
            transport = SshTransport("kh", context.endpoint(target), context)
            with pytest.raises(TransportError, match="HOST KEY CHANGED"):
                transport.connect()
            transport.close()
            context.close()
            assert known_file.read_text() == line(entry, other)  # nothing was added
        # With the right key recorded through the same wildcard, it connects.
        known_file.write_text(line(f"[127.0.0.*]:{server.port}", server.host_key))
        context = SshContext(known_hosts=KnownHosts(known_file, None), use_agent=False)
        transport = SshTransport("kh", context.endpoint(target), context)
        from dcctl.model.command import Command

        assert transport.run(Command.of(["echo", "ok"]), timeout=10).stdout.strip() == "ok"
        transport.close()
        context.close()
    finally:
        server.stop()
