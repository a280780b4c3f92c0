"""Power caps with CP-SAT.

For each GPU group g and cap level k, an integer n[g,k] counts the group's GPUs capped at that
level. Σ_k n[g,k] = |g|; every budget: fixed + Σ share·level·n ≤ limit; maximise
Σ priority·throughput·n. Coefficients are scaled to integers conservatively (budgets rounded
down, draws rounded up), so an integer solution never exceeds a real budget. The LP relaxation
(GLOP) gives a second, cheaper upper bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from dcctl.errors import SolverError
from dcctl.planning.cpsat.solver import SolverOptions, make_solver, relative_gap
from dcctl.planning.power.problem import PowerProblem

#: Budget shares are 1/k for a host on k live PDUs; ×12 makes k = 1, 2, 3, 4 exact integers.
SHARE_SCALE = 12
#: Relative throughput is scored in units of 1/10,000 of one GPU at its default limit.
VALUE_SCALE = 10_000


@dataclass(frozen=True)
class PowerAssignment:
    """Counts of GPUs per cap level for each group, with the solver's verdict."""

    counts: tuple[tuple[int, ...], ...]  # per group, per level (levels below first_allowed: 0)
    status: str
    objective: float  # Σ priority × relative throughput
    bound: float  # the solver's proven upper bound
    lp_bound: float  # the LP relaxation's optimum
    wall_s: float

    @property
    def gap(self) -> float:
        """Relative gap between the bound and the objective (0 when proven optimal)."""
        return relative_gap(self.objective, self.bound)


def _value(priority: int, throughput: float) -> int:
    return round(priority * throughput * VALUE_SCALE)


def _draw(share: float, level: float) -> int:
    return math.ceil(share * SHARE_SCALE * level - 1e-9)


def _room(limit: float, fixed: float) -> int:
    return math.floor((limit - fixed) * SHARE_SCALE + 1e-9)


def solve_power(
    problem: PowerProblem,
    options: SolverOptions,
    hint: Sequence[Sequence[int]] | None = None,
) -> PowerAssignment:
    """Solve the capping problem (max-min fair first when the problem asks).

    The LP relaxation comes first: rounded down (every budget still holds, see
    :func:`round_down`), it is often within ``options.relative_gap`` of the LP's own bound, and
    then it is the answer, with that bound. Otherwise CP-SAT solves the integer model, hinted
    with the better of the rounded LP and ``hint``.
    """
    start = time.perf_counter()
    relaxed = lp_relaxation(problem)
    if relaxed.bound >= 0 and not problem.fairness:
        rounded = round_down(problem, relaxed.fractions)
        value = objective_of(problem, rounded)
        if relative_gap(value, relaxed.bound) <= options.relative_gap:
            exact = value >= relaxed.bound - 0.5 / VALUE_SCALE
            return PowerAssignment(
                counts=tuple(tuple(c) for c in rounded),
                status="OPTIMAL" if exact else "FEASIBLE",
                objective=value,
                bound=relaxed.bound,
                lp_bound=relaxed.bound,
                wall_s=time.perf_counter() - start,
            )
        if hint is None or objective_of(problem, hint) < value:
            hint = rounded
    model = cp_model.CpModel()
    n: list[dict[int, cp_model.IntVar]] = []
    for g in problem.groups:
        vars_g = {
            k: model.new_int_var(0, g.count, f"n_{g.id}_{k}")
            for k in range(g.first_allowed, len(g.levels_w))
        }
        model.add(cp_model.LinearExpr.sum(list(vars_g.values())) == g.count)
        n.append(vars_g)
    for b in problem.budgets:
        variables, coefficients = [], []
        for gid, share in b.shares:
            levels = problem.groups[gid].levels_w
            for k, var in n[gid].items():
                variables.append(var)
                coefficients.append(_draw(share, levels[k]))
        if variables:
            expr = cp_model.LinearExpr.weighted_sum(variables, coefficients)
            model.add(expr <= _room(b.limit_w, b.fixed_w))
    variables, coefficients = [], []
    for g in problem.groups:
        for k, var in n[g.id].items():
            variables.append(var)
            coefficients.append(_value(g.priority, g.throughput[k]))
    objective = cp_model.LinearExpr.weighted_sum(variables, coefficients)
    if hint is not None:
        for g, hinted in zip(problem.groups, hint, strict=True):
            for k, var in n[g.id].items():
                model.add_hint(var, hinted[k])

    solver = make_solver(options)
    wall = 0.0
    if problem.fairness:
        floor = _fair_floor(model, problem, n)
        model.maximize(floor)
        status = solver.solve(model)
        wall += solver.wall_time
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return _failed(problem, solver, status, wall)
        model.add(floor >= round(solver.objective_value))
        model.clear_hints()  # type: ignore[no-untyped-call]  # untyped in OR-Tools' own hints
    model.maximize(objective)
    status = solver.solve(model)
    wall += solver.wall_time
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _failed(problem, solver, status, wall)
    counts = tuple(
        tuple(solver.value(n[g.id][k]) if k in n[g.id] else 0 for k in range(len(g.levels_w)))
        for g in problem.groups
    )
    name = solver.status_name(status)
    if name == "OPTIMAL" and solver.objective_value < solver.best_objective_bound - 0.5:
        name = "FEASIBLE"  # stopped at the gap limit: good, but not proven optimal
    return PowerAssignment(
        counts=counts,
        status=name,
        objective=solver.objective_value / VALUE_SCALE,
        bound=min(solver.best_objective_bound / VALUE_SCALE, relaxed.bound)
        if relaxed.bound >= 0
        else solver.best_objective_bound / VALUE_SCALE,
        lp_bound=relaxed.bound,
        wall_s=time.perf_counter() - start,
    )


def _fair_floor(
    model: cp_model.CpModel, problem: PowerProblem, n: list[dict[int, cp_model.IntVar]]
) -> cp_model.IntVar:
    """A variable no larger than the throughput of any working GPU (idle ones excluded)."""
    top = VALUE_SCALE * 2
    floor = model.new_int_var(0, top, "fair_floor")
    for g in problem.groups:
        if max(g.throughput) <= 0:
            continue
        for k, var in n[g.id].items():
            used = model.new_bool_var(f"used_{g.id}_{k}")
            model.add(var >= 1).only_enforce_if(used)
            model.add(var == 0).only_enforce_if(~used)
            model.add(floor <= round(g.throughput[k] * VALUE_SCALE)).only_enforce_if(used)
    return floor


def _failed(
    problem: PowerProblem, solver: cp_model.CpSolver, status: cp_model.CpSolverStatus, wall: float
) -> PowerAssignment:
    name = solver.status_name(status)
    if status == cp_model.INFEASIBLE:
        return PowerAssignment((), "INFEASIBLE", 0.0, 0.0, 0.0, wall)
    raise SolverError(
        f"the power solver stopped without a plan ({name}); try a longer --time-limit"
    )


@dataclass(frozen=True)
class LpRelaxation:
    """The LP relaxation's optimum and its solution (fractional GPUs per group and level)."""

    bound: float  # in the objective's units; -1 when it could not be solved
    fractions: tuple[tuple[float, ...], ...] = ()


def lp_relaxation(problem: PowerProblem) -> LpRelaxation:
    """Solve the LP relaxation with GLOP (a vertex: few fractional values)."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return LpRelaxation(-1.0)
    infinity = solver.infinity()
    x: list[dict[int, pywraplp.Variable]] = []
    objective = solver.Objective()
    for g in problem.groups:
        row = solver.Constraint(g.count, g.count)
        vars_g = {}
        for k in range(g.first_allowed, len(g.levels_w)):
            var = solver.NumVar(0, g.count, "")
            row.SetCoefficient(var, 1)
            objective.SetCoefficient(var, _value(g.priority, g.throughput[k]))
            vars_g[k] = var
        x.append(vars_g)
    for b in problem.budgets:
        row = solver.Constraint(-infinity, _room(b.limit_w, b.fixed_w))
        for gid, share in b.shares:
            levels = problem.groups[gid].levels_w
            for k, var in x[gid].items():
                row.SetCoefficient(var, _draw(share, levels[k]))
    objective.SetMaximization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return LpRelaxation(-1.0)
    fractions = tuple(
        tuple(x[g.id][k].solution_value() if k in x[g.id] else 0.0 for k in range(len(g.levels_w)))
        for g in problem.groups
    )
    return LpRelaxation(float(objective.Value()) / VALUE_SCALE, fractions)


def round_down(problem: PowerProblem, fractions: Sequence[Sequence[float]]) -> list[list[int]]:
    """Whole GPUs per level, each at or below where the LP put it: every budget still holds.

    Levels are filled from the top with the floor of the LP's cumulative counts, so the k-th
    highest-capped GPU of a group never gets a higher level than in the LP; draws only fall.
    """
    counts = []
    for g, frac in zip(problem.groups, fractions, strict=True):
        out = [0] * len(g.levels_w)
        above, placed = 0.0, 0
        for k in range(len(g.levels_w) - 1, g.first_allowed - 1, -1):
            above += frac[k]
            whole = min(g.count, math.floor(above + 1e-6))
            out[k] = whole - placed
            placed = whole
        out[g.first_allowed] += g.count - placed
        counts.append(out)
    return counts


def objective_of(problem: PowerProblem, counts: Sequence[Sequence[int]]) -> float:
    """Σ priority × throughput of whole GPUs per level, in the objective's units."""
    total = sum(
        _value(g.priority, g.throughput[k]) * n
        for g, per in zip(problem.groups, counts, strict=True)
        for k, n in enumerate(per)
    )
    return total / VALUE_SCALE


def lp_bound(problem: PowerProblem) -> float:
    """The LP relaxation's optimum (GLOP), in the objective's units; -1 if it cannot be solved."""
    return lp_relaxation(problem).bound
