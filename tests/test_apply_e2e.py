"""dcctl apply end to end against real sshd hosts: dry-run, apply, read back, idempotence,
a host lost mid-apply and resumed, secrets never shown, hostile values written literally."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.errors import ExitCode, LockedError
from dcctl.inventory.loader import load_inventory
from dcctl.playbook.executor import RolloutOptions, apply_plan, batches
from dcctl.playbook.lock import inventory_lock
from dcctl.playbook.planner import plan_playbook
from dcctl.playbook.schema import read_playbook
from dcctl.survey.fleet import make_transport
from dcctl.transport.hostkeys import host_id
from dcctl.transport.ssh import SshContext
from tests.sshd_harness import SshServer, new_key, sshd_available

reason = sshd_available()
pytestmark = pytest.mark.skipif(
    reason is not None and not os.environ.get("CI"), reason=reason or ""
)
SECRET = "pa55-w0rd-never-shown"
HOSTILE = "; rm -rf /nonexistent $(touch /tmp/dcctl-apply-owned) `id`\n'\"\\ end"


@pytest.fixture()
def lab(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    client = new_key(home / ".ssh" / "id_ed25519")
    servers = [
        SshServer(name, addr, tmp_path / name, [f"ssh-ed25519 {client.get_base64()}"])
        for name, addr in (("web1", "127.0.0.21"), ("web2", "127.0.0.22"))
    ]
    for s in servers:
        s.start()
    (home / ".ssh" / "known_hosts").write_text(
        "".join(
            f"{host_id(s.address, s.port)} ssh-ed25519 {s.host_key.get_base64()}\n" for s in servers
        )
    )
    sandboxes = {s.name: tmp_path / f"sandbox-{s.name}" for s in servers}
    for path in sandboxes.values():
        path.mkdir()
        (path / "hosts").write_text("127.0.0.1 localhost\n10.9.9.9 old\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        textwrap.dedent(
            f"""\
            defaults:
              ssh: {{user: root, identity_file: {home}/.ssh/id_ed25519, connect_timeout: 5}}
            hosts:
            """
        )
        + "".join(
            f"  - {{name: {s.name}, address: {s.address}, ssh: {{port: {s.port}}}, "
            f"vars: {{sandbox: {sandboxes[s.name]}}}}}\n"
            for s in servers
        )
    )
    playbook = tmp_path / "site.yaml"
    playbook.write_text(
        textwrap.dedent(
            f"""\
            name: sandbox baseline
            hosts: all
            vars:
              db_password: {{secret: {SECRET}}}
              hostile: {json.dumps(HOSTILE)}
            resources:
              - {{type: file, path: "{{{{ sandbox }}}}/app.conf", mode: "0640",
                 content: "user=app\\npassword={{{{ db_password }}}}\\n"}}
              - {{type: file, path: "{{{{ sandbox }}}}/hostile.txt", content: "{{{{ hostile }}}}"}}
              - {{type: line, path: "{{{{ sandbox }}}}/hosts", line: "10.0.0.5 db"}}
              - {{type: line, path: "{{{{ sandbox }}}}/hosts", line: "10.9.9.9 old", state: absent}}
              - {{type: sysctl, name: net.core.rmem_max, value: 268435456, runtime: false,
                 file: "{{{{ sandbox }}}}/90-rdma.conf"}}
              - {{type: command, argv: [touch, "{{{{ sandbox }}}}/initialised"],
                 creates: "{{{{ sandbox }}}}/initialised"}}
            """
        )
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DCCTL_STATE_DIR", str(tmp_path / ".dcctl"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.chdir(tmp_path)
    yield {"servers": servers, "inventory": inventory, "playbook": playbook, "sandboxes": sandboxes}
    for s in servers:
        s.stop()


def transports(inventory):
    """A transport factory sharing one SSH context, as the CLI builds it."""
    context = SshContext()
    return lambda host: make_transport(inventory.hosts[host], context)


def cli(lab, *args):
    result = CliRunner().invoke(app, ["-i", str(lab["inventory"]), *args])
    assert SECRET not in result.output, "a secret leaked into the output"
    return result


def test_dry_run_apply_read_back_and_idempotence(lab):
    dry = cli(lab, "apply", str(lab["playbook"]), "--dry-run")
    assert dry.exit_code == ExitCode.CHANGES_PENDING, dry.output
    # Each host has its own sandbox path, so its changes show per host (folding: unit tests).
    assert "web1: file " in dry.stdout and "web2: file " in dry.stdout
    assert "password=***" in dry.stdout
    assert "+10.0.0.5 db" in dry.stdout and "-10.9.9.9 old" in dry.stdout
    assert "12 change(s) pending on 2 host(s)" in dry.stdout

    applied = cli(lab, "apply", str(lab["playbook"]), "--yes", "--batch-by", "1")
    assert applied.exit_code == 0, applied.output
    for box in lab["sandboxes"].values():
        assert (box / "app.conf").read_text() == f"user=app\npassword={SECRET}\n"
        assert oct((box / "app.conf").stat().st_mode & 0o777) == "0o640"
        assert (box / "hostile.txt").read_text() == HOSTILE
        assert (box / "hosts").read_text() == "127.0.0.1 localhost\n10.0.0.5 db\n"
        assert (box / "90-rdma.conf").read_text() == "net.core.rmem_max = 268435456\n"
        assert (box / "initialised").exists()
    assert not os.path.exists("/tmp/dcctl-apply-owned")

    again = cli(lab, "apply", str(lab["playbook"]), "--dry-run")
    assert again.exit_code == ExitCode.OK, again.output
    assert "0 change(s) pending" in again.stdout

    journals = list((lab["inventory"].parent / ".dcctl" / "runs").glob("*.jsonl"))
    assert journals and all(SECRET not in j.read_text() for j in journals)


def test_host_lost_mid_apply_is_reported_and_resume_finishes_it(lab):
    inventory = load_inventory(lab["inventory"])
    playbook = read_playbook(lab["playbook"])
    transport_for = transports(inventory)

    plan = plan_playbook(playbook, inventory, transport_for)
    assert plan.pending == 12
    lab["servers"][1].stop()  # web2 goes away after planning, before applying
    result = apply_plan(
        plan, playbook, inventory, transport_for,
        RolloutOptions(lab["inventory"].parent / ".dcctl", max_fail_percent=100),
    )  # fmt: skip
    statuses = {h.host: h.status for h in result.hosts}
    assert statuses == {"web1": "done", "web2": "failed"}
    assert "unreachable" in result.failed[0].error.lower() or "refused" in result.failed[0].error
    lab["servers"][1].start()
    resumed = cli(lab, "apply", str(lab["playbook"]), "--yes", "--resume", result.run_id)
    assert resumed.exit_code == 0, resumed.output
    assert (lab["sandboxes"]["web2"] / "initialised").exists()
    journal = (lab["inventory"].parent / ".dcctl" / "runs" / f"{result.run_id}.jsonl").read_text()
    events = [json.loads(line) for line in journal.splitlines()]
    assert [e["host"] for e in events if e["event"] == "host_done"].count("web1") == 1


def test_lock_and_batches(lab, tmp_path):
    inventory = load_inventory(lab["inventory"])
    with (
        inventory_lock(tmp_path / "locks", inventory.files),
        pytest.raises(LockedError, match="locked by dcctl apply pid"),
        inventory_lock(tmp_path / "locks", inventory.files),
    ):
        pass
    assert batches(["web1", "web2"], inventory, "50%") == [["web1"], ["web2"]]
    assert batches(["web1", "web2"], inventory, None) == [["web1", "web2"]]


def test_health_gate_stops_on_a_regression(lab):
    inventory = load_inventory(lab["inventory"])
    playbook = read_playbook(lab["playbook"])
    transport_for = transports(inventory)

    plan = plan_playbook(playbook, inventory, transport_for)
    calls = []

    def health(hosts):
        calls.append(list(hosts))
        # After the first batch, web1 shows a new critical finding.
        return {h: ({"ecc_uncorrectable"} if len(calls) == 2 else set()) for h in hosts}

    result = apply_plan(
        plan, playbook, inventory, transport_for,
        RolloutOptions(lab["inventory"].parent / ".dcctl", batch_by="1"), health=health,
    )  # fmt: skip
    assert calls == [["web1"], ["web1"]]
    assert result.stopped == "health gate after batch 1: new problems: web1: ecc_uncorrectable"
    assert {h.host: h.status for h in result.hosts} == {"web1": "done", "web2": "not_started"}


def test_a_saved_plan_applies_exactly_and_a_stale_change_is_refused(lab, tmp_path):
    saved = tmp_path / "plan.json"
    dry = cli(lab, "apply", str(lab["playbook"]), "--dry-run", "--save-plan", str(saved))
    assert dry.exit_code == ExitCode.CHANGES_PENDING, dry.output
    document = json.loads(saved.read_text())
    assert document["schema"] == "dcctl.apply.saved/1" and document["pending"] == 12
    assert SECRET not in saved.read_text()  # what is saved (and hashed) is masked
    # After the plan was saved, web1's hosts file changes under it: that change is stale.
    box1, box2 = lab["sandboxes"]["web1"], lab["sandboxes"]["web2"]
    (box1 / "hosts").write_text("127.0.0.1 localhost\n10.9.9.9 old\n10.1.1.1 new\n")
    applied = cli(lab, "apply", str(lab["playbook"]), "--plan", str(saved), "--yes")
    assert applied.exit_code == ExitCode.HOSTS_FAILED, applied.output
    assert "stale" in applied.output
    # Every change that still matches ran; the two on web1's hosts file did not.
    assert (box1 / "hosts").read_text() == "127.0.0.1 localhost\n10.9.9.9 old\n10.1.1.1 new\n"
    assert (box1 / "app.conf").read_text() == f"user=app\npassword={SECRET}\n"
    assert (box2 / "hosts").read_text() == "127.0.0.1 localhost\n10.0.0.5 db\n"
    assert (box2 / "initialised").exists()
    report = cli(lab, "-o", "json", "apply", str(lab["playbook"]), "--dry-run")
    pending = {h["host"]: [r["resource"] for r in h["resources"] if r["changed"]]
               for h in json.loads(report.stdout)["hosts"]}  # fmt: skip
    assert pending["web2"] == [] and len(pending["web1"]) == 2
    assert all("/hosts" in r for r in pending["web1"])


def test_a_saved_plan_from_another_playbook_is_refused_before_any_host(lab, tmp_path):
    saved = tmp_path / "plan.json"
    assert cli(lab, "apply", str(lab["playbook"]), "--dry-run", "--save-plan",
               str(saved)).exit_code == ExitCode.CHANGES_PENDING  # fmt: skip
    lab["playbook"].write_text(lab["playbook"].read_text().replace("user=app", "user=web"))
    refused = cli(lab, "apply", str(lab["playbook"]), "--plan", str(saved), "--yes")
    assert refused.exit_code == ExitCode.INVALID_INPUT, refused.output
    assert "playbook changed since the plan was saved" in refused.output
    assert not (lab["sandboxes"]["web1"] / "app.conf").exists()
    both = cli(lab, "apply", str(lab["playbook"]), "--plan", str(saved), "--dry-run")
    assert both.exit_code == 64


def test_the_confirmed_plan_is_the_plan_that_runs(lab):
    """Between the plan shown and the change, the host moved on: the change is stale."""
    from dcctl.playbook.journal import Journal

    inventory = load_inventory(lab["inventory"])
    playbook = read_playbook(lab["playbook"])
    transport_for = transports(inventory)
    plan = plan_playbook(playbook, inventory, transport_for, limit="web1")
    box1 = lab["sandboxes"]["web1"]
    (box1 / "app.conf").write_text("changed by someone else\n")
    options = RolloutOptions(lab["inventory"].parent / ".dcctl")
    result = apply_plan(plan, playbook, inventory, transport_for, options)
    [host] = result.hosts
    assert host.status == "stale" and host.stale == [f"file {box1}/app.conf"]
    assert (box1 / "app.conf").read_text() == "changed by someone else\n"
    assert (box1 / "initialised").exists()  # the others ran
    events = Journal(options.state_dir / "runs", result.run_id).read().events
    assert any(e.get("event") == "change_stale" for e in events)
