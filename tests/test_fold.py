"""What a person reads: failed hosts folded by reason with addresses taken out, long tables
printed whole and fast, plan values never cut in a pipe."""

from __future__ import annotations

import io

from rich.console import Console
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.model.reasons import fold_reasons, without_address
from dcctl.playbook.model import Change, HostPlan, Outcome, Plan
from dcctl.render.inventory import render_host_table
from dcctl.render.plan import render_plan


def test_addresses_are_taken_out_of_reasons():
    assert without_address("127.0.1.7:2: Connection refused") == "Connection refused"
    assert without_address("unreachable: 10.0.0.5:22: timed out") == "unreachable: timed out"
    assert without_address("[2001:db8::5]:22: No route to host") == "No route to host"
    assert without_address("gpu001.example.com:22: Connection reset") == "Connection reset"
    assert without_address("rack a1: 3 errors") == "rack a1: 3 errors"
    assert without_address("10.0.0.5") == "10.0.0.5"  # nothing left: the reason is kept


def test_hosts_fold_by_reason_largest_first():
    items = [(f"node{i:04d}", f"unreachable: 10.1.{i // 256}.{i % 256}:22: Connection refused")
             for i in range(1, 4097)]  # fmt: skip
    items.append(("gpu7", "timed out after 30 s"))
    folded = fold_reasons(items)
    assert [(str(h), r) for h, r in folded] == [
        ("node[0001-4096]", "unreachable: Connection refused"),
        ("gpu7", "timed out after 30 s"),
    ]


def test_4096_refusing_hosts_print_two_lines(tmp_path):
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        "hosts:\n  - name: node[0001-4096]\n    address: 127.3.[0-15].[0-255]\n"
        "    ssh: {port: 2, connect_timeout: 2}\n"
    )
    book = tmp_path / "p.yaml"
    book.write_text("name: t\nhosts: all\nresources:\n  - {type: file, path: /tmp/x, content: a}\n")
    result = CliRunner().invoke(app, ["-i", str(inventory), "apply", str(book), "--dry-run"])
    assert result.exit_code == 3
    lines = result.output.splitlines()
    assert lines[0].startswith("node[0001-4096]: ") and "Connection refused" in lines[0]
    assert len(lines) == 2, result.output[:500]


def test_a_long_host_list_is_plain_columns_never_cut():
    records = [
        {"name": f"gpu-node-with-a-long-name-{i:05d}", "address": f"fd00:1234:5678::{i:x}",
         "transport": "ssh", "profile": "h100", "rack": "r1", "pdus": ["p1"], "groups": ["g"]}
        for i in range(600)
    ]  # fmt: skip
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True)
    render_host_table(console, records, None)
    lines = out.getvalue().splitlines()
    assert len(lines) == 601
    assert all(r["name"] in out.getvalue() and r["address"] in out.getvalue() for r in records)


def test_at_80_columns_host_and_address_are_not_cut():
    record = {"name": "gpu-node-017.dc1.example.org", "address": "10.110.120.130",
              "transport": "ssh", "profile": "h100-8x-sxm5-profile", "rack": "rack-a1-row-3",
              "pdus": ["pdu-a1-a", "pdu-a1-b"], "groups": ["h100", "training"]}  # fmt: skip
    records = [record]
    out = io.StringIO()
    render_host_table(Console(file=out, width=80, force_terminal=True), records, None)
    assert "gpu-node-017.dc1.example.org" in out.getvalue()
    assert "10.110.120.130" in out.getvalue()


def test_plan_values_are_not_cut_in_a_pipe():
    long_value = "4096 87380 " + "9" * 120
    change = Change("sysctl net.ipv4.tcp_rmem", "4096 87380 6291456", long_value, "differs", ())
    plan = Plan("p", [HostPlan("gpu001", [Outcome(change.resource, change)])])
    out = io.StringIO()
    render_plan(Console(file=out, width=80, force_terminal=False), plan)
    assert long_value in out.getvalue().replace("\n", "")
    assert long_value in out.getvalue()  # on one line: soft wrap, never cut
