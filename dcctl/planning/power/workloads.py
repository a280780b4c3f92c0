"""Workload classes: how throughput depends on a GPU's power cap.

A class is a piecewise-linear, concave curve of throughput (relative to the throughput at the
GPU's default limit) against the cap as a fraction of the GPU's *maximum* limit. Concavity is
required: the planner relies on it (diminishing returns per watt), and it is checked.

Built-in classes and where their numbers come from:

* ``training`` — compute-bound training. Zeus (You, Chung, Chowdhury, NSDI'23) sweeps GPU power
  limits on training jobs: about 94 % of full throughput at 70 % of the maximum limit and about
  85 % at 50 %. Below 50 % no measurement is used: throughput is assumed to fall in proportion
  to the cap (a straight line to zero), the conservative reading.
* ``inference-decode`` — memory-bound LLM decoding draws well below the limit and does not
  speed up with more power (see Splitwise, Patel et al., ISCA'24, on the token phase). Modelled
  as flat above a natural draw of 60 % of the maximum limit, proportional below it. The 60 % is
  an assumption to tune per deployment (define your own class).
* ``idle`` — no work: throughput 0 at any cap, so the planner gives idle GPUs their minimum.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dcctl.errors import PlanError


@dataclass(frozen=True)
class WorkloadClass:
    """A throughput-vs-cap curve: points (cap / max limit, relative throughput), x increasing."""

    name: str
    points: tuple[tuple[float, float], ...]
    source: str = ""

    def __post_init__(self) -> None:
        """Check the curve: at least two points, x strictly increasing in [0, 1], concave."""
        pts = self.points
        if len(pts) < 2:
            raise PlanError(f"workload class '{self.name}': needs at least two points")
        for (x0, _), (x1, _) in itertools.pairwise(pts):
            if not x0 < x1:
                raise PlanError(f"workload class '{self.name}': x must increase ({x0} then {x1})")
        if pts[0][0] < 0 or pts[-1][0] > 1.0 + 1e-9:
            raise PlanError(f"workload class '{self.name}': x is a fraction of the max limit, 0..1")
        slopes = [(y1 - y0) / (x1 - x0) for (x0, y0), (x1, y1) in itertools.pairwise(pts)]
        for a, b in itertools.pairwise(slopes):
            if b > a + 1e-9:
                raise PlanError(
                    f"workload class '{self.name}': the curve must be concave "
                    "(throughput gained per watt may only fall as the cap rises)"
                )

    def throughput(self, fraction: float) -> float:
        """Relative throughput at a cap that is ``fraction`` of the max limit (clamped)."""
        pts = self.points
        if fraction <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            if fraction <= x1:
                return y0 + (y1 - y0) * (fraction - x0) / (x1 - x0)
        return pts[-1][1]


BUILTIN: dict[str, WorkloadClass] = {
    c.name: c
    for c in (
        WorkloadClass(
            "training",
            ((0.0, 0.0), (0.5, 0.85), (0.7, 0.94), (1.0, 1.0)),
            "Zeus, NSDI'23: ~0.94 at 70 % and ~0.85 at 50 % of the max limit",
        ),
        WorkloadClass(
            "inference-decode",
            ((0.0, 0.0), (0.6, 1.0), (1.0, 1.0)),
            "memory-bound decode: flat above its natural draw (60 % of max, assumed)",
        ),
        WorkloadClass("idle", ((0.0, 0.0), (1.0, 0.0)), "no work"),
    )
}


def curve_from_points(name: str, raw: Sequence[Sequence[float]]) -> WorkloadClass:
    """A user class from ``[[x, y], ...]``."""
    try:
        points = tuple((float(x), float(y)) for x, y in raw)
    except (TypeError, ValueError):
        raise PlanError(
            f"workload class '{name}': points are [cap fraction, throughput] pairs"
        ) from None
    return WorkloadClass(name, points, "user-defined")


def all_classes(extra: Mapping[str, WorkloadClass] | None = None) -> dict[str, WorkloadClass]:
    """Built-in classes plus user classes (a user class may replace a built-in one)."""
    return {**BUILTIN, **(extra or {})}
