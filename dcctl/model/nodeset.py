"""Host sets written as node ranges (``gpu[001-128]``, ``r[a-d]n[1-4]``), with set algebra.

A :class:`NodeSet` is an immutable set of host names. It parses the range syntax used by
ClusterShell and Slurm, and folds a set back into the shortest readable text. We do not use
ClusterShell itself: it has no letter ranges (``r[a-d]``), which inventories here need.

Syntax of a pattern (commas outside brackets separate items)::

    gpu[001-128]          zero padding comes from the first bound
    gpu[1-4,7,10-20/2]    lists and steps
    r[a-d]n[1-4]          letter ranges; several brackets form a cartesian product
    login1,login2         plain names
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cached_property, lru_cache
from itertools import product

from dcctl.errors import NodeSetError, NodeSetTooLargeError

#: The largest number of names one pattern may expand to by default; well above any real site,
#: and larger is almost surely a typo (``gpu[000001-999999]``). Callers may pass their own limit.
MAX_EXPANSION = 200_000

_DIGITS = re.compile(r"(\d+)")
_NUMERIC_PIECE = re.compile(r"^(\d+)(?:-(\d+))?(?:/(\d+))?$")
_LETTER_PIECE = re.compile(r"^([A-Za-z])(?:-([A-Za-z]))?$")
_SPACE = re.compile(r"\s")


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that orders ``gpu2`` before ``gpu10`` and ``gpu01`` before ``gpu1``."""
    parts = _DIGITS.split(name)
    key: list[object] = []
    for i, part in enumerate(parts):
        if i % 2:
            key.append((int(part), len(part)))
        else:
            key.append(part)
    return tuple(key)


def _pad_of(digits: str) -> int:
    """Padding width of a digit string: its length when zero-padded, else 0 (natural)."""
    return len(digits) if len(digits) > 1 and digits[0] == "0" else 0


def _expand_piece(piece: str, pattern: str, limit: int = MAX_EXPANSION) -> list[str]:
    """Expand one comma-separated piece of a bracket (``001-128``, ``7``, ``a-d``, ``1-9/2``)."""
    piece = piece.strip()
    m = _NUMERIC_PIECE.match(piece)
    if m:
        start_s, end_s, step_s = m.groups()
        pad = _pad_of(start_s)
        start = int(start_s)
        end = int(end_s) if end_s is not None else start
        step = int(step_s) if step_s is not None else 1
        if end < start:
            raise NodeSetError(
                f"range '{piece}' in '{pattern}' expands to nothing (start {start} > end {end})"
            )
        if end_s is not None and _pad_of(end_s) and len(end_s) != pad:
            raise NodeSetError(
                f"range '{piece}' in '{pattern}' mixes paddings: "
                f"'{start_s}' and '{end_s}' must have the same width"
            )
        if step <= 0:
            raise NodeSetError(f"range '{piece}' in '{pattern}' has a step of 0")
        if (end - start) // step + 1 > limit:
            raise NodeSetTooLargeError(
                f"range '{piece}' in '{pattern}' expands to more than {limit:,} names"
            )
        return [f"{n:0{pad}d}" for n in range(start, end + 1, step)]
    m = _LETTER_PIECE.match(piece)
    if m:
        first, last = m.group(1), m.group(2) or m.group(1)
        if first.islower() != last.islower():
            raise NodeSetError(f"range '{piece}' in '{pattern}' mixes upper and lower case")
        if ord(last) < ord(first):
            raise NodeSetError(
                f"range '{piece}' in '{pattern}' expands to nothing ('{first}' > '{last}')"
            )
        return [chr(c) for c in range(ord(first), ord(last) + 1)]
    if not piece:
        raise NodeSetError(f"empty range in '{pattern}'")
    raise NodeSetError(
        f"bad range '{piece}' in '{pattern}' (expected N, N-M, N-M/STEP or a letter range a-d)"
    )


def split_items(pattern: str) -> list[tuple[str, int]]:
    """Top-level items of a pattern with their offsets.

    ``"a[1-2],b"`` gives ``[("a[1-2]", 0), ("b", 7)]``.
    """
    out: list[tuple[str, int]] = []
    offset = 0
    for raw in _split_top_level(pattern, strip=False):
        out.append((raw.strip(), offset + len(raw) - len(raw.lstrip())))
        offset += len(raw) + 1
    return out


def _split_top_level(pattern: str, strip: bool = True) -> list[str]:
    """Split a pattern on commas that are not inside brackets; check bracket balance."""
    simple = "," not in pattern and pattern.count("[") == 1 == pattern.count("]")
    if simple and pattern.index("[") < pattern.index("]"):
        return [pattern.strip() if strip else pattern]
    items: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in pattern:
        if ch == "[":
            if depth:
                raise NodeSetError(f"nested '[' in '{pattern}'")
            depth = 1
        elif ch == "]":
            if not depth:
                raise NodeSetError(f"unmatched ']' in '{pattern}'")
            depth = 0
        elif ch == "," and not depth:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    if depth:
        raise NodeSetError(f"unclosed '[' in '{pattern}'")
    items.append("".join(current))
    return [item.strip() for item in items] if strip else items


def expand_item(item: str, pattern: str | None = None, limit: int = MAX_EXPANSION) -> list[str]:
    """Expand one item without top-level commas (``r[a-d]n[1-4]``) to its names, in order."""
    pattern = pattern if pattern is not None else item
    segments: list[list[str]] = []
    pos = 0
    while pos < len(item):
        open_at = item.find("[", pos)
        if open_at < 0:
            segments.append([item[pos:]])
            break
        if open_at > pos:
            segments.append([item[pos:open_at]])
        close_at = item.index("]", open_at)
        inner = item[open_at + 1 : close_at]
        values: list[str] = []
        for piece in inner.split(","):
            values.extend(_expand_piece(piece, pattern, limit))
        segments.append(values)
        pos = close_at + 1
    total = 1
    for seg in segments:
        total *= len(seg)
    if total > limit:
        raise NodeSetTooLargeError(f"'{pattern}' expands to {total:,} names, more than {limit:,}")
    return ["".join(parts) for parts in product(*segments)]


def expand(pattern: str, limit: int = MAX_EXPANSION) -> list[str]:
    """Expand a pattern to its names in written order, keeping duplicates.

    Raises :class:`NodeSetError` on malformed, empty or patterns of more than ``limit`` names
    (checked range by range before anything is built, so a huge range costs nothing).
    """
    return list(_expand_cached(pattern, limit))


@lru_cache(maxsize=4096)
def _expand_cached(pattern: str, limit: int) -> tuple[str, ...]:
    """Expansion, memoised: inventories repeat a rack's pattern in its PDUs and domains."""
    if not pattern or not pattern.strip():
        raise NodeSetError("empty node pattern")
    if "[" not in pattern and "]" not in pattern and "," not in pattern:
        if _SPACE.search(pattern.strip()):
            raise NodeSetError(f"whitespace inside name '{pattern.strip()}' in '{pattern}'")
        return (pattern.strip(),)
    names: list[str] = []
    for item in _split_top_level(pattern):
        if not item:
            raise NodeSetError(f"empty item in '{pattern}' (stray comma?)")
        if _SPACE.search(item):
            raise NodeSetError(f"whitespace inside name '{item}' in '{pattern}'")
        names.extend(expand_item(item, pattern, limit))
        if len(names) > limit:
            raise NodeSetTooLargeError(f"'{pattern}' expands to more than {limit:,} names")
    return tuple(names)


# ----------------------------------------------------------------------------- folding


def _fold_numbers(values: Iterable[tuple[int, int]]) -> tuple[str, bool]:
    """Fold (value, pad) pairs of one axis into range text; return (text, needs_brackets)."""
    values = set(values)
    padded_widths = {pad for _, pad in values if pad}
    by_pad: dict[int, list[int]] = defaultdict(list)
    for value, pad in values:
        if not pad and len(str(value)) in padded_widths:
            pad = len(str(value))  # "100" joins the width-3 group of "001-099"
        by_pad[pad].append(value)
    pieces: list[tuple[int, int, str]] = []
    for pad, nums in by_pad.items():
        nums.sort()
        i = 0
        while i < len(nums):
            j = i
            while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
                j += 1
            if j > i:  # a consecutive run: a-b
                pieces.append((nums[i], pad, f"{nums[i]:0{pad}d}-{nums[j]:0{pad}d}"))
                i = j + 1
                continue
            step = nums[i + 1] - nums[i] if i + 1 < len(nums) else 0
            k = i
            while step > 1 and k + 1 < len(nums) and nums[k + 1] - nums[k] == step:
                k += 1
            if k - i >= 3:  # four or more evenly spaced: a-b/step (every 4th host, say)
                text = f"{nums[i]:0{pad}d}-{nums[k]:0{pad}d}/{step}"
                pieces.append((nums[i], pad, text))
                i = k + 1
                continue
            pieces.append((nums[i], pad, f"{nums[i]:0{pad}d}"))
            i += 1
    pieces.sort(key=lambda p: (p[0], p[1]))
    text = ",".join(p[2] for p in pieces)
    single = len(pieces) == 1 and "-" not in pieces[0][2]
    return text, not single


def _fold_axes(tuples: list[tuple[tuple[int, int], ...]], dims: int) -> list[list[str]]:
    """Fold n-dimensional number tuples into rectangular blocks of per-axis range texts."""
    if dims == 1:
        text, bracket = _fold_numbers(t[0] for t in tuples)
        return [[f"[{text}]" if bracket else text]]
    by_prefix: dict[tuple[tuple[int, int], ...], list[tuple[int, int]]] = defaultdict(list)
    for t in tuples:
        by_prefix[t[:-1]].append(t[-1])
    by_last: dict[str, list[tuple[tuple[int, int], ...]]] = defaultdict(list)
    for prefix, lasts in by_prefix.items():
        text, bracket = _fold_numbers(lasts)
        by_last[f"[{text}]" if bracket else text].append(prefix)
    blocks: list[list[str]] = []
    for last_text, prefixes in by_last.items():
        for head in _fold_axes(prefixes, dims - 1):
            blocks.append([*head, last_text])
    return blocks


def _fold_letters(texts: list[str]) -> list[str]:
    """Merge items differing in one letter outside brackets into a letter range (``r[a-d]n1``).

    Only contiguous runs of two or more letters are merged, so the result stays readable.
    """
    items = set(texts)
    changed = True
    while changed:
        changed = False
        by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
        for text in items:
            depth = 0
            for i, ch in enumerate(text):
                if ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                elif not depth and ch.isalpha() and ch.isascii():
                    by_key[(text[:i], text[i + 1 :])].append(ch)
        used: set[str] = set()
        for (head, tail), letters in sorted(by_key.items()):
            if len(letters) < 2:
                continue
            letters = sorted(set(letters))
            run = [letters[0]]
            runs: list[list[str]] = []
            for ch in letters[1:]:
                if ord(ch) == ord(run[-1]) + 1 and ch.islower() == run[-1].islower():
                    run.append(ch)
                else:
                    runs.append(run)
                    run = [ch]
            runs.append(run)
            for run in runs:
                members = [head + ch + tail for ch in run]
                if len(run) < 2 or any(m in used or m not in items for m in members):
                    continue
                used.update(members)
                items.difference_update(members)
                items.add(f"{head}[{run[0]}-{run[-1]}]{tail}")
                changed = True
    return list(items)


def fold(names: Iterable[str]) -> str:
    """Fold names into the shortest pattern this module writes (``gpu[001-004,007]``)."""
    shapes: dict[tuple[str, ...], list[tuple[tuple[int, int], ...]]] = defaultdict(list)
    for name in set(names):
        parts = _DIGITS.split(name)
        texts = tuple(parts[0::2])
        shapes[texts].append(tuple((int(d), _pad_of(d)) for d in parts[1::2]))
    items: list[str] = []
    for texts, tuples in shapes.items():
        dims = len(texts) - 1
        if dims == 0:
            items.append(texts[0])
            continue
        for block in _fold_axes(tuples, dims):
            out = [texts[0]]
            for axis_text, text in zip(block, texts[1:], strict=True):
                out.append(axis_text)
                out.append(text)
            items.append("".join(out))
    items = _fold_letters(items)
    items.sort(key=lambda s: natural_key(s.replace("[", "").replace("]", "")))
    return ",".join(items)


# ----------------------------------------------------------------------------- the value type


class NodeSet:
    """An immutable set of host names with set algebra and folded display.

    >>> str(NodeSet("gpu[001-004]") - NodeSet("gpu002"))
    'gpu[001,003-004]'
    """

    def __init__(self, pattern: str | Iterable[str] = "") -> None:
        """Build from a pattern (``"gpu[1-4]"``) or from an iterable of plain names."""
        if isinstance(pattern, str):
            self._names: frozenset[str] = frozenset(expand(pattern)) if pattern else frozenset()
        else:
            self._names = frozenset(pattern)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> NodeSet:
        """Build from plain names without parsing them as patterns."""
        return cls(names if not isinstance(names, str) else [names])

    @property
    def names(self) -> frozenset[str]:
        """The names as a frozenset."""
        return self._names

    @cached_property
    def sorted(self) -> tuple[str, ...]:
        """The names in natural order."""
        return tuple(sorted(self._names, key=natural_key))

    def fold(self) -> str:
        """The set as folded text (empty string for the empty set)."""
        return fold(self._names)

    def __str__(self) -> str:
        """Folded text."""
        return self.fold()

    def __repr__(self) -> str:
        """Constructor-style representation."""
        return f"NodeSet({self.fold()!r})"

    def __iter__(self) -> Iterator[str]:
        """Names in natural order."""
        return iter(self.sorted)

    def __len__(self) -> int:
        """Number of names."""
        return len(self._names)

    def __bool__(self) -> bool:
        """True when not empty."""
        return bool(self._names)

    def __contains__(self, name: object) -> bool:
        """Membership by exact name."""
        return name in self._names

    def __eq__(self, other: object) -> bool:
        """Equal when the names are equal."""
        if isinstance(other, NodeSet):
            return self._names == other._names
        return NotImplemented

    def __hash__(self) -> int:
        """Hash of the names."""
        return hash(self._names)

    def __or__(self, other: NodeSet) -> NodeSet:
        """Union."""
        return NodeSet(self._names | other._names)

    def __and__(self, other: NodeSet) -> NodeSet:
        """Intersection."""
        return NodeSet(self._names & other._names)

    def __sub__(self, other: NodeSet) -> NodeSet:
        """Difference."""
        return NodeSet(self._names - other._names)

    def __xor__(self, other: NodeSet) -> NodeSet:
        """Symmetric difference."""
        return NodeSet(self._names ^ other._names)
