"""Owned drain/resume decisions (pure): an admin's reason is never touched."""

from __future__ import annotations

import pytest

from dcctl.errors import InputError
from dcctl.scheduler.ownership import owned_reason, plan_drain, plan_resume
from dcctl.scheduler.slurm_nodes import SlurmNode

NODES = {
    "gpu001": SlurmNode("gpu001", "idle"),
    "gpu002": SlurmNode("gpu002", "mixed", ("DRAIN",), "dcctl: xid_79", "root"),
    "gpu003": SlurmNode("gpu003", "idle", ("DRAIN",), "admin: bad fan", "alice"),
}


def test_drain_decisions():
    actions = plan_drain(NODES, ["gpu001", "gpu002", "gpu003", "gpu999"], "xid_79")
    assert [a.action for a in actions] == ["drain", "skip", "skip", "skip"]
    assert actions[0].argv == ("scontrol", "update", "nodename=gpu001", "state=drain",
                               "reason=dcctl: xid_79")  # fmt: skip
    assert "by alice" in actions[2].why and actions[2].argv is None
    again = plan_drain(NODES, ["gpu002"], "xid_48")
    assert again[0].action == "drain" and "reason was 'dcctl: xid_79'" in again[0].why


def test_resume_decisions():
    actions = plan_resume(NODES, ["gpu001", "gpu002", "gpu003"])
    assert [a.action for a in actions] == ["skip", "resume", "skip"]
    assert "--force overrides" in actions[2].why
    forced = plan_resume(NODES, ["gpu003"], force=True)
    assert forced[0].action == "resume" and "set by alice" in forced[0].why


@pytest.mark.parametrize("reason", ["", "  ", "a\nb", "x\x00y", "y" * 300])
def test_bad_reasons_are_refused(reason):
    with pytest.raises(InputError):
        owned_reason(reason)


def test_hostile_reason_stays_one_argument():
    [action] = plan_drain(NODES, ["gpu001"], "$(reboot); `id` --force")
    assert action.argv is not None and action.argv[-1] == "reason=dcctl: $(reboot); `id` --force"


@pytest.mark.parametrize("node", ["-gpu001", "gpu 1", "a;b", "", "nodename=x"])
def test_node_names_that_could_be_options_or_fields_are_refused(node):
    with pytest.raises(InputError):
        plan_drain({}, [node], "x")
