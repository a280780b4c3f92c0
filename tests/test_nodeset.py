"""NodeSet: range expansion, folding and set algebra (examples and properties)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcctl.errors import NodeSetError
from dcctl.model.nodeset import NodeSet, expand, fold, natural_key, split_items


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("gpu[001-003]", ["gpu001", "gpu002", "gpu003"]),
        ("gpu[8-10]", ["gpu8", "gpu9", "gpu10"]),
        ("gpu[098-101]", ["gpu098", "gpu099", "gpu100", "gpu101"]),
        ("r[a-b]n[1-2]", ["ran1", "ran2", "rbn1", "rbn2"]),
        ("n[1-9/4]", ["n1", "n5", "n9"]),
        ("n[1,3,5-6]", ["n1", "n3", "n5", "n6"]),
        ("login1, login2", ["login1", "login2"]),
        ("10.0.0.[1-3]", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        ("plain", ["plain"]),
    ],
)
def test_expand(pattern, names):
    assert expand(pattern) == names


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("gpu[5-1]", "range '5-1' in 'gpu[5-1]' expands to nothing (start 5 > end 1)"),
        ("gpu[d-a]", "range 'd-a' in 'gpu[d-a]' expands to nothing ('d' > 'a')"),
        ("gpu[1-3", "unclosed '[' in 'gpu[1-3'"),
        ("gpu1-3]", "unmatched ']' in 'gpu1-3]'"),
        ("gpu[]", "empty range in 'gpu[]'"),
        (
            "gpu[1-x]",
            "bad range '1-x' in 'gpu[1-x]' (expected N, N-M, N-M/STEP or a letter range a-d)",
        ),
        ("gpu[1-4/0]", "range '1-4/0' in 'gpu[1-4/0]' has a step of 0"),
        (
            "gpu[1-0010]",
            "range '1-0010' in 'gpu[1-0010]' mixes paddings: "
            "'1' and '0010' must have the same width",
        ),
        ("a,,b", "empty item in 'a,,b' (stray comma?)"),
        (
            "a[1-1000]b[1-201]",
            "'a[1-1000]b[1-201]' expands to 201,000 names, more than 200,000",
        ),
        ("", "empty node pattern"),
    ],
)
def test_expand_errors(pattern, message):
    with pytest.raises(NodeSetError) as info:
        expand(pattern)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("names", "folded"),
    [
        (["gpu001", "gpu002", "gpu003", "gpu005"], "gpu[001-003,005]"),
        ([f"gpu{i:03d}" for i in range(1, 129)], "gpu[001-128]"),
        (["n1", "n2", "n10"], "n[1-2,10]"),
        (["ran1", "ran2", "rbn1", "rbn2", "rcn1", "rcn2"], "r[a-c]n[1-2]"),
        (["x1y1", "x1y2", "x2y1", "x2y2", "x3y1"], "x[1-2]y[1-2],x3y1"),
        (["login", "gpu1"], "gpu1,login"),
        (["n01", "n1"], "n[1,01]"),
    ],
)
def test_fold(names, folded):
    assert fold(names) == folded


def test_set_algebra_and_display():
    a = NodeSet("gpu[001-008]")
    b = NodeSet("gpu[005-012]")
    assert str(a | b) == "gpu[001-012]"
    assert str(a & b) == "gpu[005-008]"
    assert str(a - b) == "gpu[001-004]"
    assert str(a ^ b) == "gpu[001-004,009-012]"
    assert list(NodeSet("n[10,9,1]")) == ["n1", "n9", "n10"]
    assert "gpu003" in a and "gpu3" not in a
    assert not NodeSet() and len(a) == 8


def test_split_items_offsets():
    assert split_items("a[1-2], b,c[3,4]") == [("a[1-2]", 0), ("b", 8), ("c[3,4]", 10)]


def test_natural_order():
    assert sorted(["n10", "n9", "n1", "m2"], key=natural_key) == ["m2", "n1", "n9", "n10"]


# --------------------------------------------------------------------------- properties

_prefix = st.sampled_from(["gpu", "node-", "r", "rack-a", "x", "cn"])
_num = st.integers(min_value=0, max_value=300)
_pad = st.sampled_from([0, 0, 2, 3, 4])


@st.composite
def host_names(draw):
    """Realistic names: one or two numeric parts with random padding, some letter parts."""
    prefix = draw(_prefix)
    n = draw(_num)
    pad = draw(_pad)
    name = f"{prefix}{n:0{pad}d}"
    if draw(st.booleans()):
        name += draw(st.sampled_from(["n", "-", "s", "a", "b", "c"])) + str(
            draw(st.integers(0, 20))
        )
    if draw(st.integers(0, 9)) == 0:
        name = draw(st.sampled_from(["login", "mgmt", "a", "b", "ab"]))
    return name


name_sets = st.sets(host_names(), max_size=60)


@settings(max_examples=300, deadline=None)
@given(name_sets)
def test_fold_then_expand_is_identity(names):
    text = fold(names)
    assert set(expand(text) if text else []) == names
    assert len(expand(text) if text else []) == len(names)  # folding never repeats a name


@settings(max_examples=200, deadline=None)
@given(name_sets)
def test_fold_is_stable(names):
    text = fold(names)
    if text:
        assert fold(expand(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2000), st.integers(0, 300), st.sampled_from([0, 4, 5]))
def test_range_expansion_counts_padding_and_refolds(start, length, pad):
    end = start + length
    lo, hi = f"{start:0{pad}d}", f"{end:0{pad}d}"
    pattern = f"n[{lo}-{hi}]"
    names = expand(pattern)
    assert len(names) == length + 1
    assert names[0] == f"n{lo}" and names[-1] == f"n{hi}"
    if pad:
        assert all(len(n) == 1 + pad for n in names)
    assert str(NodeSet(pattern)) == (pattern if length else f"n{lo}")


@settings(max_examples=300, deadline=None)
@given(name_sets, name_sets)
def test_algebra_matches_python_sets(a, b):
    x, y = NodeSet.from_names(a), NodeSet.from_names(b)
    assert (x | y).names == a | b
    assert (x & y).names == a & b
    assert (x - y).names == a - b
    assert (x ^ y).names == a ^ b
    # The folded text of a result parses back to the same set.
    for result in (x | y, x - y):
        assert NodeSet(str(result)) == result if result else str(result) == ""
