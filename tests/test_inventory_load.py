"""Loading valid inventories: layering, provenance, includes, the tree and power figures."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

from dcctl.errors import ExitCode, InventoryError
from dcctl.inventory.loader import check_inventory, find_inventory, load_inventory
from dcctl.inventory.views import power_tree

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example.yaml"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_example_inventory_is_valid_and_complete():
    result = check_inventory(EXAMPLE)
    assert result.errors == [] and result.warnings == []
    inv = result.inventory
    assert len(inv.hosts) == 17
    assert str(inv.all_hosts) == "gpu[001-016],localhost"
    assert inv.hosts["localhost"].transport == "local"
    assert inv.hosts["gpu016"].address == "10.10.1.26"
    assert inv.hosts["gpu009"].rack == "rack-a2"
    assert inv.hosts["gpu009"].pdus == ("pdu-a2-a", "pdu-a2-b")
    assert inv.hosts["gpu009"].domains == {
        "leaf_switch": "ib-leaf-a2",
        "spine_switch": "ib-spine-1",
    }
    # NetBox: 415 V × 200 A × √3 × 80 %
    assert math.isclose(inv.feeds["feed-a"].available_w, 415 * 200 * math.sqrt(3) * 0.8)
    # Each H100 node: 4600 W + 8 × 700 W, dual-corded: half on each PDU.
    assert result.power.host_w["gpu001"] == 10200
    assert result.power.pdu_w["pdu-a1-a"] == 8 * 10200 / 2
    assert result.power.feed_w["feed-a"] == 16 * 10200 / 2
    assert result.power.rack_w["rack-a1"] == 8 * 10200


def test_layering_order_and_provenance(tmp_path):
    inv_file = write(
        tmp_path / "inv.yaml",
        """
        defaults:
          ssh: {user: ops, port: 22}
          vars: {tier: base, site: ams}
        hosts:
          - name: n[1-3]
            groups: [all-nodes]
            ssh: {port: 2222}
            vars: {tier: host}
        groups:
          all-nodes:
            vars: {tier: group, owner: infra}
            ssh: {user: admin}
            children: [special]
          special:
            hosts: n2
            vars: {owner: special-team}
        """,
    )
    inv = load_inventory(inv_file)
    n1, n2 = inv.hosts["n1"], inv.hosts["n2"]
    assert n1.ssh.user == "admin" and n1.ssh.port == 2222
    assert n1.vars == {"tier": "host", "site": "ams", "owner": "infra"}
    # special is a child of all-nodes: deeper groups win.
    assert n2.vars["owner"] == "special-team"
    assert n2.groups == ("all-nodes", "special")
    assert str(inv.groups["all-nodes"].hosts) == "n[1-3]"
    setting = n2.settings["vars.owner"]
    assert (setting.loc.line, setting.origin) == (16, "group 'special'")
    assert n1.settings["ssh.port"].origin == "host entry hosts[0]"
    assert n1.settings["vars.site"].origin == "defaults"
    assert n1.settings["transport"].origin == "built-in default"


def test_includes_with_globs_merge_keys_and_relative_identity(tmp_path):
    (tmp_path / "racks").mkdir()
    write(
        tmp_path / "inventory.yaml",
        """
        include: ["racks/*.yaml", profiles.yaml]
        defaults:
          ssh: {identity_file: keys/id_ed25519}
        hosts:
          - {name: "a[1-2]", profile: std}
          - {name: "b[1-2]", profile: std}
        """,
    )
    write(
        tmp_path / "profiles.yaml",
        """
        profiles:
          base: &base {baseline_w: 500}
          std:
            <<: *base
            description: standard
        """,
    )
    write(
        tmp_path / "racks" / "a.yaml",
        """
        sites:
          - name: s1
            rooms:
              - name: hall
                racks:
                  - {name: ra, hosts: "a[1-2]"}
                  - {name: rb, hosts: "b[1-2]"}
        """,
    )
    result = check_inventory(tmp_path / "inventory.yaml")
    assert result.errors == []
    inv = result.inventory
    assert inv.profiles["std"].baseline_w == 500
    assert inv.profiles["std"].description == "standard"
    assert inv.hosts["b2"].rack == "rb"
    assert inv.hosts["a1"].ssh.identity_file == str(tmp_path / "keys" / "id_ed25519")
    assert [Path(f).name for f in inv.files] == ["inventory.yaml", "a.yaml", "profiles.yaml"]


def test_auto_groups_from_tree_and_profiles():
    inv = load_inventory(EXAMPLE)
    auto = inv.auto_groups
    assert str(auto["rack"]["rack-a1"]) == "gpu[001-008]"
    assert str(auto["feed"]["feed-b"]) == "gpu[001-016]"
    assert str(auto["site"]["ams1"]) == "gpu[001-016]"
    assert str(auto["leaf_switch"]["ib-leaf-a2"]) == "gpu[009-016]"
    assert str(auto["profile"]["h100-8x"]) == "gpu[001-016]"
    assert str(auto["transport"]["local"]) == "localhost"


def test_warnings_do_not_fail(tmp_path):
    inv_file = write(
        tmp_path / "inv.yaml",
        """
        hosts: ["n[1-4]"]
        sites:
          - name: s1
            feeds: [{name: f1, voltage: 230, amps: 16}]
            rooms:
              - name: hall
                racks:
                  - name: r1
                    hosts: n[1-2]
                    pdus: [{name: p1, feed: f1, hosts: "n1,n4"}]
                  - name: r2
                    hosts: n[3-4]
                    pdus: [{name: p2, feed: f1, hosts: n3}]
        """,
    )
    result = check_inventory(inv_file)
    assert result.errors == []
    assert [(d.loc.line, d.message) for d in result.warnings] == [
        (
            1,
            "n[1,3-4]: no profile with power figures (nominal_w, or baseline_w and gpu.tdp_w); "
            "counted as 0 W in PDU and feed loads",
        ),
        (8, "n2 in rack 'r1' are on no PDU; their draw counts against no feed"),
        (10, "host 'n4' is powered from rack 'r1' but sits in rack 'r2'"),
    ]
    assert result.inventory is not None
    assert result.inventory.hosts["n4"].pdus == ("p1",)


def test_rack_over_budget_is_a_warning(tmp_path):
    inv_file = write(
        tmp_path / "inv.yaml",
        """
        profiles:
          p: {nominal_w: 800}
        hosts: [{name: "n[1-2]", profile: p}]
        sites:
          - name: s1
            rooms:
              - name: hall
                racks: [{name: r1, hosts: "n[1-2]", power_budget_w: 1000}]
        """,
    )
    result = check_inventory(inv_file)
    assert result.errors == []
    assert [d.message for d in result.warnings] == [
        "rack 'r1' nominal draw 1.6 kW exceeds its budget 1.0 kW; GPUs will need power caps "
        "(dcctl plan power)"
    ]


def test_load_inventory_raises_with_every_diagnostic(tmp_path):
    inv_file = write(tmp_path / "inv.yaml", "hosts:\n  - {name: a, profile: x}\n  - {name: a}\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(inv_file)
    assert len(info.value.diagnostics) == 2
    assert info.value.exit_code == ExitCode.INVALID_INPUT


def test_find_inventory_order(tmp_path):
    assert find_inventory("x.yaml", env={"DCCTL_INVENTORY": "y.yaml"}, cwd=tmp_path) == "x.yaml"
    assert find_inventory(None, env={"DCCTL_INVENTORY": "y.yaml"}, cwd=tmp_path) == "y.yaml"
    (tmp_path / "inventory.yaml").write_text("hosts: [a]\n")
    assert find_inventory(None, env={}, cwd=tmp_path) == "inventory.yaml"
    (tmp_path / "inventory.yaml").unlink()
    with pytest.raises(Exception) as info:
        find_inventory(None, env={}, cwd=tmp_path)
    assert "$DCCTL_INVENTORY" in str(info.value) and "./inventory.yaml" in str(info.value)


def test_power_tree_view():
    view = power_tree(load_inventory(EXAMPLE))
    site = view["sites"][0]
    assert site["nominal_w"] == 16 * 10200
    rack = site["rooms"][0]["rows"][0]["racks"][0]
    assert rack["name"] == "rack-a1" and rack["used_pct"] == pytest.approx(90.7, abs=0.05)
    assert rack["pdus"][0]["used_pct"] == pytest.approx(71.0, abs=0.05)
    assert site["feeds"][0]["used_pct"] == pytest.approx(71.0, abs=0.05)
    assert view["unplaced"] == "localhost"


def test_loading_leaves_no_reference_cycles():
    """check_inventory runs with the cyclic GC paused, so it must not create garbage cycles.

    Measured in a fresh interpreter: threads that earlier tests left behind would make
    garbage of their own meanwhile.
    """
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from dcctl.inventory.loader import check_inventory\n"
        "gc.collect()\n"
        f"result = check_inventory({str(EXAMPLE)!r})\n"
        "assert result.inventory is not None\n"
        "del result\n"
        "print(gc.collect())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "0", run.stdout + run.stderr
