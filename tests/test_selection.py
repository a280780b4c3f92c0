"""--limit expressions: groups, globs, set algebra, errors (examples and properties)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcctl.errors import SelectionError
from dcctl.inventory.loader import load_inventory
from dcctl.inventory.selection import GroupIndex, parse_selection
from dcctl.model.nodeset import NodeSet

EXAMPLE = Path(__file__).resolve().parent.parent / "inventory" / "example.yaml"


@pytest.fixture(scope="module")
def inv():
    return load_inventory(EXAMPLE)


@pytest.mark.parametrize(
    ("expression", "folded"),
    [
        ("gpu[001-004]", "gpu[001-004]"),
        ("@rack-a1", "gpu[001-008]"),
        ("@rack:rack-a1", "gpu[001-008]"),
        ("@h100 - gpu005", "gpu[001-004,006-016]"),
        ("@h100!gpu005", "gpu[001-004,006-016]"),
        ("gpu* & @rack-a2", "gpu[009-016]"),
        ("@canary,localhost", "gpu[001,009],localhost"),
        ("@canary | localhost", "gpu[001,009],localhost"),
        ("@rack-a1 ^ @canary", "gpu[002-009]"),
        ("all - @h100", "localhost"),
        ("*", "gpu[001-016],localhost"),
        ("@profile:h100-8x & (@canary, gpu002)", "gpu[001-002,009]"),
        ("gpu00?", "gpu[001-009]"),
        ("@ib-leaf-a2 & @feed-a", "gpu[009-016]"),
        ("@transport:local", "localhost"),
        ("", "gpu[001-016],localhost"),
    ],
)
def test_select(inv, expression, folded):
    assert str(inv.select(expression)) == folded


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("gpu017", "unknown host 'gpu017' (did you mean 'gpu016'?)"),
        ("gpu[015-020]", "unknown host 'gpu017' and 3 more (did you mean 'gpu016'?)"),
        ("@rack-z1", "unknown group '@rack-z1' (did you mean '@rack-a1'?)"),
        ("@rack:a9", "unknown rack 'a9'"),
        (
            "@shelf:a1",
            "unknown group kind 'shelf' in '@shelf:a1' (kinds: feed, leaf_switch, pdu, "
            "profile, rack, room, row, site, spine_switch, transport)",
        ),
        ("@h100 -", "selection '@h100 -' ends with an operator"),
        ("(@h100", "missing ')' in selection '(@h100'"),
        ("@h100)", "unexpected ')' in selection '@h100)'"),
        ("& gpu001", "unexpected '&' in selection '& gpu001'"),
        ("@canary & @rack-a1 & gpu005", "selection '@canary & @rack-a1 & gpu005' matches no host"),
        ("gpu[3-1]", "range '3-1' in 'gpu[3-1]' expands to nothing (start 3 > end 1)"),
    ],
)
def test_select_errors(inv, expression, message):
    with pytest.raises(SelectionError) as info:
        inv.select(expression)
    assert str(info.value) == message


def test_ambiguous_plain_group_name():
    index = GroupIndex(
        {}, {"rack": {"x": NodeSet("a1")}, "pdu": {"x": NodeSet("a2")}}, NodeSet("a[1-2]")
    )
    with pytest.raises(SelectionError) as info:
        parse_selection("@x", index)
    assert str(info.value) == "group '@x' is ambiguous: write @rack:x or @pdu:x"
    assert str(parse_selection("@pdu:x", index)) == "a2"


def test_hyphen_inside_names_is_not_an_operator(inv):
    assert str(inv.select("@rack-a1 - gpu001")) == "gpu[002-008]"
    assert str(inv.select("@rack-a2")) == "gpu[009-016]"


# --------------------------------------------------------------------------- properties

ALL = [f"n{i}" for i in range(1, 41)]
subsets = st.sets(st.sampled_from(ALL), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    subsets,
    subsets,
    subsets,
    st.sampled_from(["|", "&", "-", "^"]),
    st.sampled_from(["|", "&", "-", "^"]),
)
def test_expression_algebra_matches_python(a, b, c, op1, op2):
    groups = {"a": NodeSet.from_names(a), "b": NodeSet.from_names(b), "c": NodeSet.from_names(c)}
    index = GroupIndex(groups, {}, NodeSet.from_names(ALL))
    py = {"|": set.__or__, "&": set.__and__, "-": set.__sub__, "^": set.__xor__}
    expected_left = py[op2](py[op1](set(a), set(b)), set(c))
    expected_right = py[op1](set(a), py[op2](set(b), set(c)))
    assert parse_selection(f"@a {op1} @b {op2} @c", index).names == expected_left
    assert parse_selection(f"@a {op1} (@b {op2} @c)", index).names == expected_right
    # Folded text of a group, used as a term, selects the same hosts.
    assert parse_selection(str(groups["a"]), index).names == a
