"""The one place that imports OR-Tools: problem descriptions in, assignments out.

- `solver`: the options every model takes (time limit, workers, seed, gap) and the solver
  factory that applies them;
- `power`: a power cap per GPU under feed, PDU and rack budgets (`solve_power`, `lp_bound`);
- `placement`: jobs on nodes and GPUs, host by host (`solve_placement`) or on classes of
  identical hosts (`solve_class_placement`).
"""

from dcctl.planning.cpsat.placement import (
    ClassSolution,
    PlacementHint,
    PlacementSolution,
    solve_class_placement,
    solve_placement,
)
from dcctl.planning.cpsat.power import PowerAssignment, lp_bound, solve_power
from dcctl.planning.cpsat.solver import SolverOptions, make_solver, relative_gap

__all__ = [
    "ClassSolution",
    "PlacementHint",
    "PlacementSolution",
    "PowerAssignment",
    "SolverOptions",
    "lp_bound",
    "make_solver",
    "relative_gap",
    "solve_class_placement",
    "solve_placement",
    "solve_power",
]
