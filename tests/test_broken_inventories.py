"""A table of broken inventories, each with its exact message, location and field path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dcctl.inventory.loader import check_inventory

FEEDS = """
sites:
  - name: s1
    feeds:
      - {name: feed-a, voltage: 230, amps: 32, phase: single, max_utilization: 80}
    rooms:
      - name: hall
        racks:
          - name: r1
            hosts: n[1-2]
            pdus:
              - {name: p1, feed: feed-a, hosts: "n[1-2]"}
"""

# (id, files {name: text}, expected errors [(file, line, col, path, message)])
CASES: list[tuple[str, dict[str, str], list[tuple[str, int, int, str, str]]]] = [
    (
        "unknown-profile-did-you-mean",
        {
            "inventory.yaml": """
            profiles:
              h200-8x:
                gpu: {model: H200, count: 8}
            hosts:
              - name: gpu[001-004]
                profile: h200x8
            """
        },
        [
            (
                "inventory.yaml",
                6,
                14,
                "hosts[0].profile",
                "unknown profile 'h200x8' (did you mean 'h200-8x'?)",
            )
        ],
    ),
    (
        "duplicate-host",
        {
            "inventory.yaml": """
            hosts:
              - name: gpu[001-004]
              - name: gpu003
            """
        },
        [
            (
                "inventory.yaml",
                3,
                5,
                "hosts[1].name",
                "duplicate host 'gpu003' (already defined at inventory.yaml:2:5, hosts[0])",
            )
        ],
    ),
    (
        "host-in-two-racks",
        {
            "inventory.yaml": """
            hosts: [n1, n2, n3]
            sites:
              - name: s1
                rooms:
                  - name: hall
                    racks:
                      - {name: r1, hosts: "n[1-2]"}
                      - {name: r2, hosts: "n[2-3]"}
            """
        },
        [
            (
                "inventory.yaml",
                8,
                31,
                "sites[0].rooms[0].racks[1].hosts",
                "host 'n2' is already in rack 'r1' (inventory.yaml:7:31)",
            )
        ],
    ),
    (
        "unknown-host-in-rack",
        {
            "inventory.yaml": """
            hosts: ["gpu[001-004]"]
            sites:
              - name: s1
                rooms:
                  - name: hall
                    racks:
                      - name: r1
                        hosts: gpu[001-003],gpu0004
            """
        },
        [
            (
                "inventory.yaml",
                8,
                33,
                "sites[0].rooms[0].racks[0].hosts",
                "unknown host 'gpu0004' (did you mean 'gpu004'?)",
            )
        ],
    ),
    (
        "unknown-feed",
        {
            "inventory.yaml": """
            hosts: ["n[1-2]"]
            sites:
              - name: s1
                feeds:
                  - {name: feed-a, voltage: 230, amps: 32}
                rooms:
                  - name: hall
                    racks:
                      - name: r1
                        hosts: n[1-2]
                        pdus:
                          - {name: p1, feed: feed-b, hosts: "n[1-2]"}
            """
        },
        [
            (
                "inventory.yaml",
                12,
                34,
                "sites[0].rooms[0].racks[0].pdus[0].feed",
                "unknown feed 'feed-b' (did you mean 'feed-a'?)",
            )
        ],
    ),
    (
        "pdu-exceeds-feed",
        {
            "inventory.yaml": """
            profiles:
              big: {baseline_w: 2000, gpu: {model: H100, count: 8, tdp_w: 700}}
            hosts:
              - {name: "n[1-2]", profile: big}
            """
            + textwrap.indent(FEEDS, " " * 12)
        },
        [
            (
                "inventory.yaml",
                9,
                16,
                "sites[0].feeds[0]",
                "feed 'feed-a' carries 15.2 kW nominal across its PDUs, more than its available "
                "5.9 kW (230 V × 32 A × 80%)",
            ),
            (
                "inventory.yaml",
                16,
                24,
                "sites[0].rooms[0].racks[0].pdus[0]",
                "PDU 'p1' nominal load 15.2 kW exceeds feed 'feed-a' available 5.9 kW "
                "(230 V × 32 A × 80%)",
            ),
        ],
    ),
    (
        "group-names-nothing",
        {
            "inventory.yaml": """
            hosts: [n1]
            groups:
              spare: {description: nothing yet}
            """
        },
        [("inventory.yaml", 3, 3, "groups.spare", "group 'spare' names no hosts")],
    ),
    (
        "group-unknown-child",
        {
            "inventory.yaml": """
            hosts: [n1]
            groups:
              a: {hosts: n1}
              b: {children: [aa]}
            """
        },
        [
            (
                "inventory.yaml",
                4,
                18,
                "groups.b.children",
                "unknown group 'aa' (did you mean 'a'?)",
            ),
        ],
    ),
    (
        "group-cycle",
        {
            "inventory.yaml": """
            hosts: [n1]
            groups:
              a: {hosts: n1, children: [b]}
              b: {children: [a]}
            """
        },
        [("inventory.yaml", 4, 18, "groups.b.children", "group cycle: a → b → a")],
    ),
    (
        "host-tags-unknown-group",
        {
            "inventory.yaml": """
            hosts:
              - {name: n1, groups: [trainnig]}
            groups:
              training: {hosts: n1}
            """
        },
        [
            (
                "inventory.yaml",
                2,
                25,
                "hosts[0].groups",
                "unknown group 'trainnig' (did you mean 'training'?)",
            )
        ],
    ),
    (
        "range-expands-to-nothing",
        {"inventory.yaml": "hosts:\n  - name: gpu[128-001]\n"},
        [
            (
                "inventory.yaml",
                2,
                11,
                "hosts[0].name",
                "range '128-001' in 'gpu[128-001]' expands to nothing (start 128 > end 1)",
            )
        ],
    ),
    (
        "absurd-range",
        {"inventory.yaml": "hosts:\n  - name: gpu[1-2000000]\n"},
        [
            (
                "inventory.yaml",
                2,
                11,
                "hosts[0].name",
                "range '1-2000000' in 'gpu[1-2000000]' expands to more than 200,000 names "
                "(the limit; raise it with $DCCTL_MAX_HOSTS if this is meant)",
            )
        ],
    ),
    (
        "alias-bomb",
        {
            "inventory.yaml": """
            hosts: [n1]
            groups:
              g:
                hosts: n1
                vars:
                  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
                  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
                  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
                  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
                  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
                  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
                  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
            """
        },
        [
            (
                "inventory.yaml",
                12,
                10,
                "",
                "YAML aliases expand this value to more than 5,000,000 nodes (alias bomb?)",
            )
        ],
    ),
    (
        "recursive-alias",
        {"inventory.yaml": "hosts: [n1]\ngroups:\n  g: &g\n    children: [*g]\n"},
        [("inventory.yaml", 3, 6, "", "recursive YAML alias: this value contains itself")],
    ),
    (
        "duplicate-key",
        {"inventory.yaml": "hosts:\n  - name: n1\n    address: 10.0.0.1\n    address: 10.0.0.2\n"},
        [("inventory.yaml", 4, 5, "hosts[0].address", "duplicate key 'address' (first at line 3)")],
    ),
    (
        "unknown-field-did-you-mean",
        {"inventory.yaml": "hosts:\n  - name: n1\n    adress: 10.0.0.1\n"},
        [
            (
                "inventory.yaml",
                3,
                5,
                "hosts[0].adress",
                "unknown field 'adress' (did you mean 'address'?)",
            )
        ],
    ),
    (
        "wrong-type-and-range",
        {
            "inventory.yaml": """
            defaults:
              ssh: {port: twenty-two, connect_timeout: -1}
            hosts:
              - name: n1
                ssh: {port: 70000}
            """
        },
        [
            (
                "inventory.yaml",
                2,
                15,
                "defaults.ssh.port",
                "expected an integer, got a string 'twenty-two'",
            ),
            (
                "inventory.yaml",
                2,
                44,
                "defaults.ssh.connect_timeout",
                "must be greater than 0, got -1",
            ),
            ("inventory.yaml", 5, 17, "hosts[0].ssh.port", "must be at most 65535, got 70000"),
        ],
    ),
    (
        "host-key-checking-off",
        {"inventory.yaml": "defaults:\n  ssh:\n    host_key_policy: no\nhosts: [n1]\n"},
        [
            (
                "inventory.yaml",
                3,
                22,
                "defaults.ssh.host_key_policy",
                "must be 'strict' or 'accept-new'; dcctl never turns host-key checking off",
            )
        ],
    ),
    (
        "host-key-policy-typo",
        {"inventory.yaml": "defaults:\n  ssh:\n    host_key_policy: accept_new\nhosts: [n1]\n"},
        [
            (
                "inventory.yaml",
                3,
                22,
                "defaults.ssh.host_key_policy",
                "must be one of 'strict', 'accept-new', got 'accept_new' "
                "(did you mean 'accept-new'?)",
            )
        ],
    ),
    (
        "address-count-mismatch",
        {"inventory.yaml": "hosts:\n  - name: n[1-4]\n    address: 10.0.0.[1-3]\n"},
        [
            (
                "inventory.yaml",
                3,
                14,
                "hosts[0].address",
                "pattern gives 3 addresses for 4 hosts",
            )
        ],
    ),
    (
        "hostile-address",
        {"inventory.yaml": "hosts:\n  - name: n1\n    address: 'x; rm -rf /'\n"},
        [
            (
                "inventory.yaml",
                3,
                14,
                "hosts[0].address",
                "'x; rm -rf /' is not an IP address or host name",
            )
        ],
    ),
    (
        "yaml-syntax",
        {"inventory.yaml": "hosts:\n  - name: n1\n   profile: x\n"},
        [
            (
                "inventory.yaml",
                3,
                4,
                "",
                "invalid YAML: did not find expected '-' indicator",
            )
        ],
    ),
    (
        "include-missing-and-root-only",
        {
            "inventory.yaml": "include: [racks.yaml, missing.yaml]\nhosts: [n1]\n",
            "racks.yaml": "defaults: {transport: local}\n",
        },
        [
            (
                "inventory.yaml",
                1,
                23,
                "include",
                "included file 'missing.yaml' does not exist",
            ),
            (
                "racks.yaml",
                1,
                1,
                "defaults",
                "may only be set in the top-level inventory file",
            ),
        ],
    ),
    (
        "include-cycle",
        {
            "inventory.yaml": "include: a.yaml\nhosts: [n1]\n",
            "a.yaml": "include: b.yaml\n",
            "b.yaml": "include: a.yaml\n",
        },
        [
            (
                "b.yaml",
                1,
                10,
                "include",
                "include cycle: inventory.yaml → a.yaml → b.yaml → a.yaml",
            )
        ],
    ),
    (
        "profile-defined-twice-across-files",
        {
            "inventory.yaml": (
                "include: more.yaml\nprofiles:\n  p: {baseline_w: 100}\nhosts: [n1]\n"
            ),
            "more.yaml": "profiles:\n  p: {baseline_w: 200}\n",
        },
        [("more.yaml", 2, 3, "profiles.p", "profile 'p' is already defined at inventory.yaml:3:3")],
    ),
    (
        "power-limits-order",
        {
            "inventory.yaml": """
            profiles:
              h100:
                gpu:
                  model: H100
                  count: 8
                  power_limit_w: {min: 200, default: 800, max: 700}
            hosts: [n1]
            """
        },
        [
            (
                "inventory.yaml",
                6,
                22,
                "profiles.h100.gpu.power_limit_w",
                "needs min ≤ default ≤ max, got 200 / 800 / 700 W",
            )
        ],
    ),
    (
        "two-domains-of-one-kind",
        {
            "inventory.yaml": """
            hosts: ["n[1-4]"]
            domains:
              - {name: nvl-1, kind: nvlink, hosts: "n[1-2]"}
              - {name: nvl-2, kind: nvlink, hosts: "n[2-4]"}
              - {name: x, kind: nvlinks, hosts: "n1"}
            """
        },
        [
            (
                "inventory.yaml",
                4,
                40,
                "domains[1].hosts",
                "host 'n2' is already in nvlink domain 'nvl-1' (inventory.yaml:3:12)",
            ),
            (
                "inventory.yaml",
                5,
                21,
                "domains[2].kind",
                "must be one of 'nvlink', 'leaf_switch', 'spine_switch', 'ib_switch', 'cooling', "
                "got 'nvlinks' (did you mean 'nvlink'?)",
            ),
        ],
    ),
    (
        "empty-file",
        {"inventory.yaml": "# nothing here\n"},
        [("inventory.yaml", 1, 1, "", "inventory file is empty")],
    ),
    (
        "unsupported-version",
        {"inventory.yaml": "version: 2\nhosts: [n1]\n"},
        [("inventory.yaml", 1, 10, "version", "unsupported version 2 (this dcctl reads 1)")],
    ),
    (
        "glob-matches-nothing",
        {"inventory.yaml": "hosts: [n1]\ngroups:\n  g: {hosts: 'gpu*'}\n"},
        [
            ("inventory.yaml", 3, 15, "groups.g.hosts", "'gpu*' matches no host"),
        ],
    ),
    (
        "python-tag-rejected",
        {"inventory.yaml": "hosts:\n  - name: !!python/object:os.system n1\n"},
        [
            (
                "inventory.yaml",
                2,
                11,
                "",
                "explicit YAML tag '!!python/object:os.system' is not accepted: write the value "
                "plainly (quote it to make it text)",
            )
        ],
    ),
]


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"))


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_inventory(tmp_path, monkeypatch, files, expected):
    write_files(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    result = check_inventory("inventory.yaml")
    got = [
        (d.loc.file, d.loc.line, d.loc.col, d.path, d.message)
        if d.loc
        else (None, 0, 0, d.path, d.message)
        for d in result.errors
    ]
    assert got == expected
    assert result.inventory is None


def test_all_errors_are_collected_in_one_pass(tmp_path, monkeypatch):
    write_files(
        tmp_path,
        {
            "inventory.yaml": """
            hosts:
              - {name: a1, profile: nope}
              - {name: a2, adress: x}
              - {name: "b[3-1]"}
            groups:
              g: {children: [missing]}
            """
        },
    )
    monkeypatch.chdir(tmp_path)
    result = check_inventory("inventory.yaml")
    assert [(d.loc.line, d.path, d.message) for d in result.errors] == [
        (2, "hosts[0].profile", "unknown profile 'nope'"),
        (3, "hosts[1].adress", "unknown field 'adress' (did you mean 'address'?)"),
        (4, "hosts[2].name", "range '3-1' in 'b[3-1]' expands to nothing (start 3 > end 1)"),
        (6, "groups.g.children", "unknown group 'missing'"),
    ]


def test_oversize_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "inventory.yaml"
    with path.open("w") as fh:
        fh.write("hosts: [n1]\n")
        fh.write("# " + "x" * (33 * 1024 * 1024) + "\n")
    monkeypatch.chdir(tmp_path)
    result = check_inventory("inventory.yaml")
    assert [d.message for d in result.errors] == [
        f"file is {path.stat().st_size:,} bytes, more than the limit of 33,554,432"
    ]


def test_deep_nesting_is_refused(tmp_path, monkeypatch):
    depth = 200_000  # yaml.compose's C composer would overflow the C stack here
    text = (
        "hosts: [n1]\ngroups:\n  g:\n    hosts: n1\n    vars:\n      deep: "
        + "[" * depth
        + "]" * depth
        + "\n"
    )
    (tmp_path / "inventory.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = check_inventory("inventory.yaml")
    # The behaviour, not a library's wording: one error, located on the deep value's line, that
    # names nesting depth (dcctl's own guard or PyYAML's, whichever trips first).
    [error] = result.errors
    assert error.loc is not None and error.loc.line == 6
    assert "nesting" in error.message
    from typer.testing import CliRunner

    from dcctl.cli import app

    cli = CliRunner().invoke(app, ["inventory", "validate", "inventory.yaml"])
    assert cli.exit_code == 64
    assert "inventory.yaml:6:" in cli.output
    assert "Traceback" not in cli.output
