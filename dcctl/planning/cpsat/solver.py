"""The CP-SAT solver factory shared by every model (options are plain values elsewhere)."""

from __future__ import annotations

from ortools.sat.python import cp_model

from dcctl.planning.solver_options import SolverOptions, relative_gap

__all__ = ["SolverOptions", "make_solver", "relative_gap"]


def make_solver(options: SolverOptions) -> cp_model.CpSolver:
    """A CP-SAT solver with the options' time limit, workers, seed and gap."""
    solver = cp_model.CpSolver()
    if options.deterministic:
        solver.parameters.interleave_search = True
        solver.parameters.max_deterministic_time = options.time_limit_s
        solver.parameters.max_time_in_seconds = 4 * options.time_limit_s  # a safety net only
    else:
        solver.parameters.max_time_in_seconds = options.time_limit_s
    solver.parameters.num_workers = options.workers
    solver.parameters.random_seed = options.seed
    solver.parameters.relative_gap_limit = options.relative_gap
    return solver
