"""A catalogue of hostile playbooks, dry-run against a real sshd host: nothing changes there.

Every field that reaches a command gets values an attacker (or a typo) would write: leading
dashes that a tool would read as options, ``$(…)`` and backticks, newlines, NUL, ``..``, and
very long values. Each must be refused with its location (exit 64) or planned harmlessly; after
the whole catalogue the host is exactly as before: no marker file, the same sysctl values, the
same files in the sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.transport.hostkeys import host_id
from tests.sshd_harness import SshServer, new_key, sshd_available

reason = sshd_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)
LONG = "x" * 5000


def markers(root: Path) -> list[str]:
    return [str(root / f"pwned-{i}") for i in range(4)]


def hostile_cases(root: Path, sandbox: Path) -> list[tuple[str, str, dict[str, object]]]:
    """(case name, resource type, fields) — ``{M0}`` .. ``{M3}`` are marker paths."""
    m = markers(root)
    evil = root / "evil.conf"
    subst = f"$(touch {m[0]})"
    ticks = f"`touch {m[1]}`"
    return [
        ("sysctl --load", "sysctl", {"name": f"--load={evil}", "value": "1", "runtime": True}),
        ("sysctl -p", "sysctl", {"name": "-p", "value": "1"}),
        ("sysctl $()", "sysctl", {"name": subst, "value": "1", "file": f"{sandbox}/s.conf"}),
        ("sysctl newline", "sysctl", {"name": "net.core.somaxconn\nkernel.panic", "value": "1"}),
        ("sysctl ..", "sysctl", {"name": "../../etc/passwd", "value": "1", "runtime": True}),
        ("sysctl long", "sysctl", {"name": LONG, "value": "1"}),
        (
            "sysctl value newline",
            "sysctl",
            {
                "name": "net.core.somaxconn",
                "value": "1\nkernel.panic = 1",
                "file": f"{sandbox}/s.conf",
            },
        ),
        (
            "sysctl value $()",
            "sysctl",
            {
                "name": "net.core.somaxconn",
                "value": subst,
                "file": f"{sandbox}/s.conf",
                "runtime": False,
            },
        ),
        ("file path -rf", "file", {"path": "-rf", "content": "x"}),
        ("file path relative", "file", {"path": "etc/x", "content": "x"}),
        ("file path ..", "file", {"path": f"{sandbox}/../../etc/x", "content": "x"}),
        ("file path newline", "file", {"path": f"{sandbox}/a\nb", "content": "x"}),
        ("file path NUL", "file", {"path": f"{sandbox}/a\0b", "content": "x"}),
        ("file path $()", "file", {"path": f"{sandbox}/{subst}", "content": ticks}),
        (
            "file mode --reference",
            "file",
            {"path": f"{sandbox}/m", "content": "x", "mode": "--reference=/etc/shadow"},
        ),
        (
            "file mode two words",
            "file",
            {"path": f"{sandbox}/m", "content": "x", "mode": "0644 /etc/shadow"},
        ),
        (
            "file owner option",
            "file",
            {"path": f"{sandbox}/m", "content": "x", "owner": "--from=0"},
        ),
        ("file owner ;", "file", {"path": f"{sandbox}/m", "content": "x", "owner": "root;id"}),
        ("file content NUL", "file", {"path": f"{sandbox}/c", "content": "a\0b"}),
        ("line path -n", "line", {"path": "-n", "line": "x"}),
        ("line newline", "line", {"path": f"{sandbox}/hosts", "line": "a\nb"}),
        ("service --now", "service", {"name": "--now"}),
        ("service $()", "service", {"name": subst}),
        ("package -o", "package", {"name": f"-oAPT::Update::Pre-Invoke::=touch {m[2]}"}),
        ("package long", "package", {"name": LONG}),
        ("module -r", "kernel_module", {"name": "-r"}),
        ("module ..", "kernel_module", {"name": "../x"}),
        ("mtu ..", "mtu", {"interface": "../../../../tmp", "mtu": 1500}),
        ("mtu -x", "mtu", {"interface": "-x", "mtu": 1500}),
        ("command creates relative", "command", {"argv": ["true"], "creates": "-e"}),
        (
            "command argv $()",
            "command",
            {"argv": ["touch", subst, ticks], "creates": f"{sandbox}/{subst}"},
        ),
        ("command string $()", "command", {"command": f"echo {subst} {ticks}"}),
        (
            "command unless argv $()",
            "command",
            {"argv": ["true"], "unless": ["test", "-e", f"{subst}"]},
        ),
    ]


def sandbox_digest(sandbox: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(sandbox.rglob("*")):
        digest.update(str(path).encode())
        if path.is_file():
            digest.update(path.read_bytes())
            digest.update(oct(path.stat().st_mode).encode())
    return digest.hexdigest()


def sysctls() -> dict[str, str]:
    names = ("net/core/somaxconn", "kernel/panic", "net/core/rmem_max")
    return {n: Path("/proc/sys", n).read_text() for n in names}


@pytest.fixture()
def host(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    client = new_key(home / ".ssh" / "id_ed25519")
    server = SshServer("h1", "127.0.0.31", tmp_path / "h1", [f"ssh-ed25519 {client.get_base64()}"])
    server.start()
    (home / ".ssh" / "known_hosts").write_text(
        f"{host_id(server.address, server.port)} ssh-ed25519 {server.host_key.get_base64()}\n"
    )
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "hosts").write_text("127.0.0.1 localhost\n")
    (tmp_path / "evil.conf").write_text(f"net.core.somaxconn = 1234\n# {markers(tmp_path)[3]}\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        textwrap.dedent(
            f"""\
            hosts:
              - {{name: h1, address: {server.address},
                 ssh: {{port: {server.port}, user: root, identity_file: {home}/.ssh/id_ed25519}}}}
            """
        )
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.chdir(tmp_path)
    yield {"root": tmp_path, "sandbox": sandbox, "inventory": inventory}
    server.stop()


def test_hostile_dry_runs_change_nothing(host):
    root, sandbox = host["root"], host["sandbox"]
    before_sysctl, before_files = sysctls(), sandbox_digest(sandbox)
    runner = CliRunner()
    outcomes = {}
    for name, kind, fields in hostile_cases(root, sandbox):
        for literal in (True, False):  # written in place, or arriving through {{ var }}
            resource = {"type": kind, **fields}
            variables = {}
            if not literal:
                keys = ("name", "path", "interface", "mode", "owner", "value", "creates", "command")
                key = next((k for k in keys if isinstance(fields.get(k), str)), None)
                if key is None:
                    continue
                variables["v"] = fields[key]
                resource[key] = "{{ v }}"
            playbook = root / "hostile.yaml"
            playbook.write_text(
                json.dumps(
                    {"name": name, "hosts": "h1", "vars": variables, "resources": [resource]}
                )
            )
            result = runner.invoke(
                app, ["-i", str(host["inventory"]), "apply", str(playbook), "--dry-run"]
            )
            assert "Traceback" not in result.output, (name, result.output)
            assert result.exit_code in (0, 2, 3, 64), (name, literal, result.output)
            if literal and result.exit_code == 64:
                assert "hostile.yaml:1:" in result.output, (name, result.output)
            outcomes[name, literal] = result.exit_code
    # Values that would be options, escape their folder or break a line are refused, both
    # written in place and through a variable.
    must_refuse = [n for n, *_ in hostile_cases(root, sandbox)
                   if not n.startswith(("command argv", "command string", "command unless",
                                        "file path $()", "sysctl value $()"))]  # fmt: skip
    refused_literal = {n for (n, literal), code in outcomes.items() if literal and code == 64}
    assert set(must_refuse) <= refused_literal, sorted(set(must_refuse) - refused_literal)
    # Through a variable the value is known per host: that host fails (exit 3), nothing runs.
    refused_var = {n for (n, literal), code in outcomes.items() if not literal and code in (3, 64)}
    assert set(must_refuse) <= refused_var, sorted(set(must_refuse) - refused_var)
    # And the host is untouched.
    assert [m for m in markers(root) if Path(m).exists()] == []
    assert sysctls() == before_sysctl
    assert sandbox_digest(sandbox) == before_files
