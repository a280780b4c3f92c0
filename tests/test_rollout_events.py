"""The rollout as a stream of events: handlers see every step in order and may stop it."""

from __future__ import annotations

import json
import textwrap

from dcctl.inventory.loader import load_inventory
from dcctl.playbook.events import (
    BatchFinished,
    BatchStarted,
    ChangeApplied,
    HostFinished,
    HostStarted,
    RolloutStopped,
    RunFinished,
    RunStarted,
)
from dcctl.playbook.executor import RolloutOptions, apply_plan
from dcctl.playbook.planner import plan_playbook
from dcctl.playbook.schema import read_playbook
from dcctl.survey.fleet import make_transport
from dcctl.transport.ssh import SshContext


def site(tmp_path, hosts=3):
    boxes = {f"l{i}": tmp_path / f"box{i}" for i in range(1, hosts + 1)}
    for box in boxes.values():
        box.mkdir()
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n" + "".join(
        f"  - {{name: {h}, transport: local, vars: {{box: '{b}'}}}}\n" for h, b in boxes.items()
    ))  # fmt: skip
    book = tmp_path / "p.yaml"
    book.write_text(textwrap.dedent("""\
        name: events
        hosts: all
        resources:
          - {type: file, path: "{{ box }}/a", content: "a\\n"}
          - {type: file, path: "{{ box }}/b", content: "b\\n"}
        """))  # fmt: skip
    inventory = load_inventory(inv)
    playbook = read_playbook(book)
    context = SshContext()

    def transport_for(host):
        return make_transport(inventory.hosts[host], context)

    plan = plan_playbook(playbook, inventory, transport_for)
    return inventory, playbook, plan, transport_for, boxes


def test_handlers_see_every_step_in_order(tmp_path):
    inventory, playbook, plan, transport_for, _boxes = site(tmp_path)
    seen = []
    result = apply_plan(plan, playbook, inventory, transport_for,
                        RolloutOptions(tmp_path / ".dcctl", batch_by="2"),
                        handlers=[lambda e: seen.append(e)])  # fmt: skip
    assert [h.status for h in result.hosts] == ["done"] * 3
    kinds = [type(e).__name__ for e in seen]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert [e.hosts for e in seen if isinstance(e, BatchStarted)] == [["l1", "l2"], ["l3"]]
    assert len([e for e in seen if isinstance(e, ChangeApplied)]) == 6
    for host in ("l1", "l2", "l3"):
        mine = [type(e) for e in seen if getattr(e, "host", None) == host]
        assert mine == [HostStarted, ChangeApplied, ChangeApplied, HostFinished]
    batch_1_end = next(i for i, e in enumerate(seen) if isinstance(e, BatchFinished))
    assert all(not isinstance(e, HostStarted) or e.host != "l3" for e in seen[:batch_1_end])
    assert isinstance(seen[0], RunStarted) and seen[0].hosts == ["l1", "l2", "l3"]
    assert isinstance(seen[-1], RunFinished) and seen[-1].failed == 0


def test_a_handler_stops_the_rollout_after_a_batch(tmp_path):
    inventory, playbook, plan, transport_for, boxes = site(tmp_path)
    seen = []

    def drain_check(event):
        seen.append(event)
        if isinstance(event, BatchFinished) and event.number == 1:
            return "drain check: l1 did not come back"
        return None

    result = apply_plan(plan, playbook, inventory, transport_for,
                        RolloutOptions(tmp_path / ".dcctl", batch_by="1"),
                        handlers=[drain_check])  # fmt: skip
    assert result.stopped == "drain check: l1 did not come back"
    assert {h.host: h.status for h in result.hosts} == {
        "l1": "done", "l2": "not_started", "l3": "not_started"}  # fmt: skip
    assert not (boxes["l2"] / "a").exists()
    assert any(isinstance(e, RolloutStopped) and not e.interrupted for e in seen)


def test_the_journal_is_a_handler_with_batches_recorded(tmp_path):
    inventory, playbook, plan, transport_for, _boxes = site(tmp_path)
    options = RolloutOptions(tmp_path / ".dcctl", batch_by="2")
    result = apply_plan(plan, playbook, inventory, transport_for, options)
    path = options.state_dir / "runs" / f"{result.run_id}.jsonl"
    events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    assert events[0] == "run_start" and events[-1] == "run_end"
    assert events.count("batch_start") == 2 and events.count("batch_end") == 2
    assert events.count("host_done") == 3 and events.count("change_applied") == 6
