"""What every solver run takes: time limit, workers, seed, gap. Plain values, no OR-Tools."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SolverOptions:
    """Time limit, parallel workers and seed: the same options give the same answer."""

    time_limit_s: float = 10.0
    # One worker: deterministic by itself, and on a few cores the fastest (the greedy hint is
    # already within a fraction of a percent); more workers interleave deterministically.
    workers: int = 1
    seed: int = 0
    relative_gap: float = 0.001  # stop once the plan is proven within 0.1 % of the optimum
    # Reproducible: workers interleave in a fixed order and the limit is CP-SAT's deterministic
    # time (about seconds of work), so the same options give the same plan on any run.
    deterministic: bool = True


def relative_gap(objective: float, bound: float) -> float:
    """(bound − objective) / bound for a maximisation, 0 when proven or the bound is 0."""
    if bound <= 0:
        return 0.0
    return max(0.0, (bound - objective) / bound)
