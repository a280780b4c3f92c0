"""Slurm readers on real output recorded from a Slurm 22.05.8 cluster (tests/fixtures/slurm).

Recorded with ../shared/recipes/slurm-up.sh (3 nodes, 8 GPUs each): a job holding 3 GPUs on
gpu002, then gpu003 drained by an admin ("admin: bad fan") and gpu002 by dcctl while the job ran
(MIXED+DRAIN); then the job cancelled (IDLE+DRAIN), then slurmctld stopped.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from dcctl.scheduler.slurm_nodes import (
    SchedulerUnreachableError,
    SlurmOutputError,
    check_reachable,
    gpu_count,
    parse_scontrol_nodes,
    parse_sinfo_json,
    parse_state,
    split_reason,
)

FIX = Path(__file__).resolve().parent / "fixtures" / "slurm"


def test_scontrol_reader_on_real_output():
    nodes = {
        n.name: n for n in parse_scontrol_nodes((FIX / "scontrol-show-node-d.txt").read_text())
    }
    assert list(nodes) == ["gpu001", "gpu002", "gpu003"]
    assert (nodes["gpu001"].state, nodes["gpu001"].flags, nodes["gpu001"].reason) == (
        "idle",
        (),
        None,
    )
    g2 = nodes["gpu002"]
    assert (g2.state, g2.flags) == ("mixed", ("DRAIN",))
    assert g2.reason == "dcctl: xid_79 (reset_gpu)" and g2.reason_by == "root"
    assert g2.draining and not g2.drained and g2.owned_by("dcctl:")
    assert (g2.gpus, g2.gpus_used, g2.gpu_indexes_used) == (8, 3, (0, 1, 2))
    g3 = nodes["gpu003"]
    assert g3.drained and g3.reason == "admin: bad fan" and not g3.owned_by("dcctl:")


def test_json_and_text_readers_agree_on_the_same_moment():
    text = parse_scontrol_nodes((FIX / "scontrol-show-node-d.txt").read_text())
    js = parse_sinfo_json((FIX / "sinfo.json").read_text())
    assert text == js


def test_drain_completes_when_the_job_ends():
    text = (FIX / "scontrol-show-node-d-drained.txt").read_text()
    nodes = {n.name: n for n in parse_scontrol_nodes(text)}
    assert nodes["gpu002"].drained and nodes["gpu002"].gpus_used == 0
    assert not nodes["gpu001"].drain


def test_without_detail_gpus_in_use_are_unknown_not_zero():
    nodes = parse_scontrol_nodes((FIX / "scontrol-show-node.txt").read_text())
    assert all(n.gpus == 8 and n.gpus_used is None for n in nodes)


def test_a_stopped_controller_is_unreachable_never_a_verdict():
    text = (FIX / "scontrol-controller-down.txt").read_text()
    with pytest.raises(SchedulerUnreachableError, match="scheduler unreachable"):
        check_reachable(text, 1)
    with pytest.raises(SchedulerUnreachableError):
        check_reachable("", None)  # our own timeout
    check_reachable("NodeName=gpu001 State=IDLE", 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("MIXED+DRAIN", ("mixed", ("DRAIN",))),
    ("IDLE+NOT_RESPONDING", ("idle", ("NOT_RESPONDING",))),
    ("DOWN*", ("down", ("NOT_RESPONDING",))),
    ("ALLOCATED", ("allocated", ())),
])  # fmt: skip
def test_states(text, expected):
    assert parse_state(text) == expected


def test_reasons_and_gres():
    assert split_reason("dcctl: a [b] [root@2026-11-28T12:13:32]") == ("dcctl: a [b]", "root")
    assert split_reason("no suffix") == ("no suffix", None)
    assert split_reason("") == (None, None)
    assert gpu_count("gpu:h100:8(S:0-1)") == (8, ())
    assert gpu_count("gpu:a100:2(IDX:0,3),gpu:h100:1(IDX:5)") == (3, (0, 3, 5))
    assert gpu_count("(null)") == (None, ())


@pytest.mark.parametrize("bad", ["", "{}", '{"meta": {"plugin": {"type": "openapi/v9"}}}', "[1"])
def test_unknown_json_is_an_error_not_a_guess(bad):
    with pytest.raises(SlurmOutputError):
        parse_sinfo_json(bad)


def test_mutated_scontrol_lines_never_crash():
    import random

    base = (FIX / "scontrol-show-node-d.txt").read_text()
    rng = random.Random(3)
    for _ in range(2000):
        chars = list(base)
        for _ in range(rng.randrange(1, 6)):
            chars[rng.randrange(len(chars))] = rng.choice("= +*()[]:,\n\x00xZ9-")
        with contextlib.suppress(SlurmOutputError):
            parse_scontrol_nodes("".join(chars))
