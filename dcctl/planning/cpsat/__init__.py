"""The one place that imports OR-Tools: problem descriptions in, assignments out.

Import the submodule you need; this package imports none, so power never loads placement.

- `solver`: the solver factory that applies the options every model takes (time limit,
  workers, seed, gap: `dcctl.planning.solver_options`, plain values);
- `power`: a power cap per GPU under feed, PDU and rack budgets (`solve_power`, `lp_bound`);
- `placement`: jobs on nodes and GPUs, host by host (`solve_placement`) or on classes of
  identical hosts (`solve_class_placement`).
"""
