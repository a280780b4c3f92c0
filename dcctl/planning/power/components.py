"""Independent parts of a power problem, solved one by one.

Two GPU groups depend on each other only through a budget they both draw from. Groups that share
no budget, directly or through others, form independent parts: a row of racks on its own feeds
is one. Solving each part alone gives the same optimum as the whole (the objective is a sum), and
a site of 100,000 GPUs in 250 rows becomes 250 small models instead of one of 400,000 variables.
Max-min fairness couples every group through the worst-off GPU, so it is solved whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dcctl.planning.power.problem import Budget, PowerProblem


@dataclass(frozen=True)
class Part:
    """One independent part: its own problem, and the original id of each of its groups."""

    problem: PowerProblem
    group_ids: tuple[int, ...]  # part's group i is the whole problem's group group_ids[i]


def independent_parts(problem: PowerProblem) -> list[Part]:
    """The problem split into parts that share no budget (one part when all are linked)."""
    parent = list(range(len(problem.groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for budget in problem.budgets:
        gids = [gid for gid, _ in budget.shares]
        for gid in gids[1:]:
            a, b = root(gids[0]), root(gid)
            if a != b:
                parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for gid in range(len(problem.groups)):
        members.setdefault(root(gid), []).append(gid)
    if len(members) <= 1:
        return [Part(problem, tuple(range(len(problem.groups))))]
    budgets_of: dict[int, list[Budget]] = {}
    for budget in problem.budgets:
        if budget.shares:
            budgets_of.setdefault(root(budget.shares[0][0]), []).append(budget)
    parts = []
    for key, gids in sorted(members.items()):
        new_id = {old: new for new, old in enumerate(gids)}
        groups = tuple(dataclasses.replace(problem.groups[old], id=new_id[old]) for old in gids)
        budgets = tuple(
            dataclasses.replace(b, shares=tuple((new_id[g], s) for g, s in b.shares))
            for b in budgets_of.get(key, [])
        )
        sub = dataclasses.replace(problem, groups=groups, budgets=budgets)
        parts.append(Part(sub, tuple(gids)))
    return parts
