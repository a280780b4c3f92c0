"""Reasons hosts failed, made foldable: the address each host's message carries taken out.

``node07: unreachable: 127.0.1.7:2: Connection refused`` for 4,096 hosts is 4,096 different
lines; without the address it is one reason, and the hosts fold into ``node[0001-4096]``, like
``clush -b``. JSON keeps every host's full message; only what a person reads is folded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from dcctl.model.nodeset import NodeSet

_ADDRESS = re.compile(
    r"(?<![\w.:-])(?:"
    r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?"  # 10.0.0.5, 10.0.0.5:22
    r"|\[[0-9A-Fa-f:.]+(?:%\w+)?\](?::\d+)?"  # [fe80::1], [2001:db8::5]:22
    r"|[A-Za-z0-9][\w.-]*:\d+(?=:\s)"  # gpu001.example.com:22 before ': '
    r")(?::\s+|\s+)?"
)


def without_address(reason: str) -> str:
    """The reason with network addresses (and a following ``: ``) taken out."""
    out = _ADDRESS.sub("", reason)
    return re.sub(r"\s{2,}", " ", out).strip() or reason


def fold_reasons(items: Iterable[tuple[str, str]]) -> list[tuple[NodeSet, str]]:
    """``(host, reason)`` pairs folded by reason (addresses out), the largest group first."""
    groups: dict[str, list[str]] = defaultdict(list)
    for host, reason in items:
        groups[without_address(reason)].append(host)
    folded = [(NodeSet.from_names(hosts), reason) for reason, hosts in groups.items()]
    return sorted(folded, key=lambda g: (-len(g[0]), str(g[0])))
